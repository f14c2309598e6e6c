/**
 * The runnable parts of a guide written in Markdown (CONTRIBUTING.md, "A guide whose commands run"):
 *
 * - ```` ```sh title="run" ```` — commands the test runs with bash; they must exit 0;
 * - ```` ```sh title="run: fails" ```` — commands shown as a mistake; they must exit non-zero;
 * - ```` ```sh title="run: keeps running" ```` — a command that runs in a terminal of its own until
 *   Ctrl-C (`npm start`): the test starts it and goes on once it has printed what its output block
 *   shows; a later such block first stops it with Ctrl-C, as a reader restarting it does;
 * - ```` ```text title="output" ```` — right after a runnable block: what it prints (stdout and
 *   stderr together), with `…` for what changes from run to run (test/support/guide-match.ts);
 * - ```` ```sh title="settings" ```` — the variables the reader sets for the guide (`export NAME=…`);
 *   never run: the test sets them to its own servers.
 *
 * Every other fenced block is prose to the test.
 */

export interface GuideBlock {
  /** 1-based line of the opening fence in the guide, for messages. */
  line: number;
  code: string;
  /** The command is shown failing on purpose. */
  fails: boolean;
  /** The command keeps running, in a terminal of its own, until Ctrl-C (absent: it ends by itself). */
  keepsRunning?: true;
  /** What the guide shows it printing, when it shows anything. */
  output?: { line: number; text: string };
}

export interface Guide {
  blocks: GuideBlock[];
  /** The variables the settings block exports, in order. */
  settings: string[];
}

interface Fence {
  line: number;
  info: string;
  body: string;
}

function fences(markdown: string): Fence[] {
  const found: Fence[] = [];
  const lines = markdown.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const open = /^(`{3,})(.*)$/.exec(lines[i]!);
    if (!open) continue;
    const close = lines.findIndex((l, k) => k > i && l.trimEnd() === open[1]);
    if (close < 0) throw new Error(`guide line ${i + 1}: a code block is never closed`);
    found.push({ line: i + 1, info: open[2]!.trim(), body: lines.slice(i + 1, close).join('\n') });
    i = close;
  }
  return found;
}

const RUN = 'sh title="run"';
const RUN_FAILS = 'sh title="run: fails"';
const RUN_KEEPS_RUNNING = 'sh title="run: keeps running"';
const OUTPUT = 'text title="output"';
const SETTINGS = 'sh title="settings"';

/** The variables `export NAME=…` lines set, in the order they appear. */
function exportedNames(body: string): string[] {
  return [...body.matchAll(/^export\s+([A-Za-z_][A-Za-z0-9_]*)=/gm)].map((m) => m[1]!);
}

/** The guide's runnable blocks in order, each with the output it shows, and its settings. */
export function parseGuide(markdown: string): Guide {
  const blocks: GuideBlock[] = [];
  const settings: string[] = [];
  let previous: Fence | undefined;
  for (const fence of fences(markdown)) {
    if (fence.info === RUN || fence.info === RUN_FAILS || fence.info === RUN_KEEPS_RUNNING) {
      blocks.push({
        line: fence.line,
        code: fence.body,
        fails: fence.info === RUN_FAILS,
        ...(fence.info === RUN_KEEPS_RUNNING && { keepsRunning: true as const }),
      });
    } else if (fence.info === OUTPUT) {
      const last = blocks.at(-1);
      if (!last || previous?.line !== last.line || last.output)
        throw new Error(`guide line ${fence.line}: an output block must follow the runnable block it belongs to`);
      last.output = { line: fence.line, text: fence.body };
    } else if (fence.info === SETTINGS) {
      settings.push(...exportedNames(fence.body));
    } else if (/title="(run|output|settings)\b/.test(fence.info)) {
      throw new Error(`guide line ${fence.line}: unknown marker "${fence.info}" (see CONTRIBUTING.md)`);
    }
    previous = fence;
  }
  return { blocks, settings };
}

/**
 * The runnable blocks of the section whose `## ` heading starts with `heading` (up to the next
 * `## ` heading): a guide's alternative path, run on its own.
 */
export function blocksOfSection(markdown: string, guide: Guide, heading: string): GuideBlock[] {
  const lines = markdown.split('\n');
  const from = lines.findIndex((l) => l.startsWith(`## ${heading}`));
  if (from < 0) throw new Error(`the guide has no section "## ${heading}…"`);
  const next = lines.findIndex((l, i) => i > from && l.startsWith('## '));
  const to = next < 0 ? lines.length : next;
  return guide.blocks.filter((b) => b.line > from && b.line <= to);
}
