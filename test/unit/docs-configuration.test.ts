import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { describe, it } from 'node:test';
import { configDocs, environmentOnlyDocs } from '../../lib/config-docs.ts';
import { configSchema, configVariables } from '../../lib/config.ts';
import { configurationPagePath, renderConfigurationPage } from '../../scripts/docs/configuration.ts';

describe('docs/configuration.md', () => {
  it('is what scripts/docs/configuration.ts generates from lib/config.ts', async () => {
    const committed = await readFile(configurationPagePath, 'utf8');
    assert.equal(
      committed,
      renderConfigurationPage(),
      'docs/configuration.md is stale: run scripts/node scripts/docs/configuration.ts and commit the page',
    );
  });

  it('names every variable the schema reads, each once', async () => {
    const page = await readFile(configurationPagePath, 'utf8');
    for (const name of [...configVariables, ...Object.keys(environmentOnlyDocs)]) {
      assert.equal(page.split(`| \`${name}\` |`).length - 1, 1, `${name} has one row`);
    }
  });

  it('documents the default the schema applies', () => {
    for (const name of configVariables) {
      const parsed = configSchema.shape[name].safeParse(undefined);
      if (!parsed.success || parsed.data === undefined) continue;
      assert.ok(
        configDocs[name].default.includes(`\`${String(parsed.data)}\``),
        `${name}: the schema's default ${String(parsed.data)} is not the documented "${configDocs[name].default}"`,
      );
    }
  });

  it('keeps environment-only variables out of the config file names', () => {
    for (const name of Object.keys(environmentOnlyDocs)) assert.ok(!(configVariables as string[]).includes(name), name);
  });
});
