/**
 * Compares what a command printed with the output a guide shows for it. The guide's text is
 * literal except for one wildcard, `…` (U+2026): inside a line it stands for any text on that line
 * (an id, a time, a size), and a line that is `…` alone stands for any number of lines, none
 * included. Trailing spaces and blank lines at either end are ignored, so that a guide does not
 * have to show them.
 */

export const WILDCARD = '…';

export type OutputMatch = { ok: true } | { ok: false; message: string };

function lines(text: string): string[] {
  const all = text.split('\n').map((l) => l.trimEnd());
  while (all.length > 0 && all[0] === '') all.shift();
  while (all.length > 0 && all.at(-1) === '') all.pop();
  return all;
}

const escapeRegExp = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** One expected line as a test of an actual line: literal text, `…` matching any run of characters. */
function linePattern(expected: string): (actual: string) => boolean {
  if (!expected.includes(WILDCARD)) return (actual) => actual === expected;
  const pattern = new RegExp(`^${expected.split(WILDCARD).map(escapeRegExp).join('.*')}$`, 's');
  return (actual) => pattern.test(actual);
}

/**
 * Whether `expected[i..]` matches `actual[j..]`, for every i and j: a table filled from the end, so
 * that a line-wildcard may take any number of lines without exponential backtracking.
 */
function matchTable(expected: string[], actual: string[]): boolean[][] {
  const tests = expected.map((l) => (l === WILDCARD ? null : linePattern(l)));
  const table = Array.from({ length: expected.length + 1 }, () => new Array<boolean>(actual.length + 1).fill(false));
  table[expected.length]![actual.length] = true;
  for (let i = expected.length - 1; i >= 0; i--) {
    for (let j = actual.length; j >= 0; j--) {
      const test = tests[i];
      table[i]![j] =
        test === null
          ? table[i + 1]![j]! || (j < actual.length && table[i]![j + 1]!)
          : j < actual.length && test!(actual[j]!) && table[i + 1]![j + 1]!;
    }
  }
  return table;
}

/** The first expected line that no alignment gets past: where the two part ways. */
function firstMismatch(expected: string[], actual: string[]): { line: number; near: string | undefined } {
  // Walk greedily along literal lines; at a line-wildcard, skip ahead to the next line the following expectation accepts.
  let j = 0;
  for (let i = 0; i < expected.length; i++) {
    if (expected[i] === WILDCARD) {
      const next = expected.slice(i + 1).find((l) => l !== WILDCARD);
      if (next === undefined) return { line: expected.length, near: undefined };
      const test = linePattern(next);
      while (j < actual.length && !test(actual[j]!)) j++;
      continue;
    }
    if (j >= actual.length || !linePattern(expected[i]!)(actual[j]!)) return { line: i, near: actual[j] };
    j++;
  }
  return { line: expected.length, near: actual[j] };
}

/** Whether `actual` is what `expected` shows; when not, a message naming the first line that differs. */
export function matchOutput(expected: string, actual: string): OutputMatch {
  const want = lines(expected);
  const got = lines(actual);
  if (matchTable(want, got)[0]![0]) return { ok: true };
  const { line, near } = firstMismatch(want, got);
  const where =
    line < want.length
      ? `expected line ${line + 1}: ${JSON.stringify(want[line])}\n  printed: ${near === undefined ? '(nothing more)' : JSON.stringify(near)}`
      : `printed more than expected, from: ${JSON.stringify(near)}`;
  return { ok: false, message: `output differs from the guide's\n  ${where}\nwhole output:\n${got.join('\n')}` };
}
