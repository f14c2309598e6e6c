import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import globals from 'globals';
import svelte from 'eslint-plugin-svelte';

const nodeBuiltins = [
  'assert',
  'buffer',
  'child_process',
  'cluster',
  'crypto',
  'dgram',
  'dns',
  'events',
  'fs',
  'fs/promises',
  'http',
  'https',
  'net',
  'os',
  'path',
  'perf_hooks',
  'process',
  'readline',
  'stream',
  'timers',
  'tls',
  'url',
  'util',
  'worker_threads',
  'zlib',
];

// The catalog's pool and SQL stay inside lib/catalog: the layers above call its repositories
// (catalog.getDatabase, catalog.access.createFirstOwner, …). lib/pg, lib/backup, lib/wal and the
// like reach SOURCE databases with pg, which is not the catalog and not restricted here.
const catalogOutsiders = ['services', 'activities', 'web', 'cli', 'worker', 'temporal', 'workflows', 'scripts'].map(
  (dir) => `${dir}/**/*.ts`,
);
const catalogRule =
  "the catalog's pool and SQL stay in lib/catalog: call a repository function of the Catalog (add one there if it is missing)";

export default tseslint.config(
  {
    ignores: [
      'node_modules/',
      '.venv/',
      '.venv-fuzz/',
      '.pg/',
      '.node/',
      '.setup/',
      'data/',
      'web/build/',
      'web/.svelte-kit/',
      'dist/',
      'test-artifacts/',
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    languageOptions: {
      globals: globals.node,
      parserOptions: { projectService: { allowDefaultProject: ['*.js'] }, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      // node:test's describe/it return promises that the runner itself awaits.
      '@typescript-eslint/no-floating-promises': [
        'error',
        {
          allowForKnownSafeCalls: [
            { from: 'package', package: 'node:test', name: ['describe', 'it', 'test', 'before', 'after'] },
          ],
        },
      ],
      '@typescript-eslint/no-misused-promises': ['error', { checksVoidReturn: false }],
      '@typescript-eslint/consistent-type-imports': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  {
    // Temporal replays workflow code: anything non-deterministic (I/O, clocks, Node APIs) is banned here.
    files: ['workflows/**/*.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          paths: nodeBuiltins
            .flatMap((m) => [m, `node:${m}`])
            .map((name) => ({
              name,
              message: 'workflow code must be deterministic: no Node built-ins; do I/O in an activity',
            })),
          patterns: [
            {
              group: ['**/lib/**', '**/activities/**', '**/services/**'],
              allowTypeImports: true,
              message: 'workflows import only @temporalio/workflow, messages and types; run I/O in activities',
            },
            {
              group: ['pg', 'pino', 'express', '@temporalio/client', '@temporalio/worker', '@temporalio/activity'],
              message: 'not allowed in workflow code',
            },
          ],
        },
      ],
    },
  },
  {
    files: ['web/src/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: ['**/workflows/**'],
              message:
                'the console starts workflows through temporal/start.ts and imports messages from temporal/contracts/',
            },
          ],
        },
      ],
    },
  },
  {
    files: catalogOutsiders,
    rules: {
      'no-restricted-syntax': ['error', { selector: "MemberExpression[property.name='pool']", message: catalogRule }],
    },
  },
  {
    // workflows/ are kept away from pg and lib/ by their own rule above.
    files: catalogOutsiders.filter((glob) => !glob.startsWith('workflows/')),
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          paths: [
            {
              name: 'pg',
              allowTypeImports: true,
              message: `${catalogRule}; source databases are reached through lib/pg`,
            },
          ],
          patterns: [
            { group: ['**/lib/catalog/db.ts', '**/lib/catalog/migrate.ts'], message: catalogRule },
            {
              group: ['**/lib/catalog/catalog.ts'],
              importNames: ['createCatalog', 'createCatalogPool'],
              message: `${catalogRule}; open it with openCatalog`,
            },
          ],
        },
      ],
    },
  },
  {
    // Small modules and short functions: a reader holds one in mind at a time. Test files are held to the file
    // length; their describe blocks are lists of cases and may run longer than one function should.
    files: ['**/*.ts', '**/*.svelte'],
    rules: { 'max-lines': ['error', { max: 400 }] },
  },
  {
    files: ['**/*.ts'],
    ignores: ['test/**'],
    rules: { 'max-lines-per-function': ['error', { max: 80, skipBlankLines: true, skipComments: true }] },
  },
  { files: ['**/*.js', '**/*.mjs'], languageOptions: { globals: globals.node } },
  // The console's components: Svelte's own rules, with typescript-eslint parsing <script lang="ts">.
  ...svelte.configs.recommended,
  {
    files: ['**/*.svelte', '**/*.svelte.ts'],
    languageOptions: {
      globals: globals.browser,
      parserOptions: { parser: tseslint.parser, extraFileExtensions: ['.svelte'] },
    },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      // The console is served at the root (no paths.base) and every link works without JavaScript; resolve()
      // renders a relative base during server rendering ("../hooks/x"), so links stay absolute paths.
      'svelte/no-navigation-without-resolve': ['error', { ignoreLinks: true }],
    },
  },
);
