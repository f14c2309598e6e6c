/**
 * Warnings a runtime prints when something runs on a path that is going away: Node's own
 * (`(node:123) [DEP0040] DeprecationWarning: …`, `ExperimentalWarning`) and a dependency's notice
 * that this Node.js is no longer supported (the AWS SDK's NodeDeprecationWarning).
 */
const NODE_WARNING = /\(node:\d+\) (?:\[[A-Z0-9_]+\] )?\w*Warning: .*/;
const UNSUPPORTED_NODE =
  /no longer support(?:s|ed)? Node\.js|NodeDeprecationWarning|version of Node\.js .* (?:is )?(?:no longer|not) supported/i;

/** The warnings in one line of stderr (empty when it holds none). */
export function runtimeWarnings(line: string): string[] {
  const found = NODE_WARNING.exec(line)?.[0] ?? (UNSUPPORTED_NODE.test(line) ? line.trim() : undefined);
  return found ? [found] : [];
}
