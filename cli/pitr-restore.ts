/**
 * `hindsight restore <db> --time|--lsn|--xid|--name|--latest|--immediate (--to <dir> | --to <postgres-url> | --to-sandbox) [--wait]`:
 * the flags of a point-in-time restore and how its outcome is printed (services/restores/start.ts
 * starts it; the `--backup` path of `restore` stays the logical one).
 */
import { describeFigures } from '../lib/pitr/restore-figures.ts';
import { describeInstructions, pitrInstructions } from '../lib/pitr/result-instructions.ts';
import { describeInputError } from '../temporal/contracts/common.ts';
import {
  pitrRestoreInput,
  pitrRestoreWorkflow,
  type PitrOutcome,
  type PitrRestoreInput,
} from '../temporal/contracts/pitr.ts';
import { printJson, UsageError } from './output.ts';

export interface PitrRestoreFlags {
  time?: string | undefined;
  lsn?: string | undefined;
  xid?: string | undefined;
  name?: string | undefined;
  latest?: boolean | undefined;
  immediate?: boolean | undefined;
  to?: string | undefined;
  'to-sandbox'?: boolean | undefined;
  agent?: string | undefined;
  'then-stop'?: boolean | undefined;
  'with-owners'?: boolean | undefined;
  'with-privileged-roles'?: boolean | undefined;
}

/** `--to postgres://…`: one database extracted into another server rather than a whole cluster into a directory. */
const isPgUrl = (to: string | undefined): to is string => to !== undefined && /^postgres(ql)?:\/\//.test(to);

/** The URL as the workflow input's schema sees it once the service has sealed its password. */
function withoutPassword(url: string): string {
  if (!URL.canParse(url)) return url;
  const u = new URL(url);
  u.password = '';
  return u.toString();
}

function destinationFromFlags(flags: PitrRestoreFlags): PitrRestoreInput['to'] {
  if (flags['to-sandbox']) return { sandbox: true };
  if (isPgUrl(flags.to)) {
    if (flags.agent || flags['then-stop'])
      throw new UsageError('--agent and --then-stop apply to a restore into a directory, not into a postgres:// URL');
    if (flags['with-privileged-roles'] && !flags['with-owners'])
      throw new UsageError('--with-privileged-roles applies only with --with-owners');
    return {
      url: flags.to,
      ...(flags['with-owners'] ? { withOwners: true, privilegedRoles: Boolean(flags['with-privileged-roles']) } : {}),
    };
  }
  if (flags['with-owners'])
    throw new UsageError(
      '--with-owners applies to a point-in-time restore into a postgres:// URL; a directory keeps the whole cluster, roles included',
    );
  return {
    directory: flags.to!,
    ...(flags.agent ? { agent: flags.agent } : {}),
    ...(flags['then-stop'] ? { thenStop: true } : {}),
  };
}

/** True when the flags ask for a point-in-time restore rather than a logical one. */
export function wantsPitrRestore(flags: PitrRestoreFlags): boolean {
  return (
    [flags.time, flags.lsn, flags.xid, flags.name].some((v) => v !== undefined) ||
    Boolean(flags.latest) ||
    Boolean(flags.immediate) ||
    Boolean(flags['to-sandbox'])
  );
}

export function pitrInputFromFlags(database: string, flags: PitrRestoreFlags): PitrRestoreInput {
  const targets: Array<PitrRestoreInput['target']> = [
    ...(flags.time !== undefined ? [{ time: flags.time }] : []),
    ...(flags.lsn !== undefined ? [{ lsn: flags.lsn }] : []),
    ...(flags.xid !== undefined ? [{ xid: flags.xid }] : []),
    ...(flags.name !== undefined ? [{ name: flags.name }] : []),
    ...(flags.latest ? ['latest' as const] : []),
    ...(flags.immediate ? ['immediate' as const] : []),
  ];
  if (targets.length !== 1)
    throw new UsageError(
      'a point-in-time restore needs exactly one of --time <RFC 3339>, --lsn <X/Y>, --xid <n>, --name <restore point>, --latest, --immediate',
    );
  if (Boolean(flags.to) === Boolean(flags['to-sandbox']))
    throw new UsageError(
      'a point-in-time restore needs exactly one of --to <empty directory>, --to <postgres-url> or --to-sandbox',
    );
  if (flags['then-stop'] && flags['to-sandbox'])
    throw new UsageError(
      '--then-stop applies to a restore into a directory (--to); a sandbox is always stopped and removed',
    );
  const to = destinationFromFlags(flags);
  const input = { database, target: targets[0]!, to };
  const checked = 'url' in to ? { ...input, to: { ...to, url: withoutPassword(to.url) } } : input;
  const parsed = pitrRestoreInput.safeParse(checked);
  if (!parsed.success) throw new UsageError(describeInputError(pitrRestoreWorkflow.type, parsed.error));
  return input;
}

/** An extraction's report: the point reached, what was copied where, and how long it took. */
function describeExtraction(o: PitrOutcome, e: NonNullable<PitrOutcome['extracted']>): string {
  const reached = o.lastTransactionTime
    ? `last transaction committed at ${o.lastTransactionTime}`
    : 'no transaction replayed after the base backup';
  const owners =
    e.ownership.mode === 'with-owners'
      ? `owners and grants kept; roles created: ${e.ownership.created.join(', ') || 'none'} (no passwords)${e.ownership.skipped.map((s) => `\nskipped ${s.what}: ${s.reason}`).join('')}`
      : 'owners and grants: not restored (--no-owner)';
  return `extracted "${o.database}" at LSN ${o.reachedLsn} (${reached}) into ${e.target}${e.created ? ' (created)' : ''}: ${e.tables} table(s), ${e.rows} row(s), ${e.bytes} bytes of dump in ${(e.durationMs / 1000).toFixed(1)} s, every row count matches the recovered database; sandbox removed\n${owners}${o.note ? `\nnote: ${o.note}` : ''}${o.figures ? `\nmeasured: ${describeFigures(o.figures)}` : ''}\n`;
}

export function describeOutcome(o: PitrOutcome): string {
  if (o.extracted) return describeExtraction(o, o.extracted);
  const running = o.server?.running ?? o.kept;
  const where = !o.kept
    ? 'sandbox checked and removed'
    : `${running ? 'running on' : 'stopped, kept for'} 127.0.0.1:${o.port} from ${o.dataDirectory}`;
  const last = o.lastTransactionTime ? `, last transaction committed at ${o.lastTransactionTime}` : '';
  const instructions = o.server ? `\n${describeInstructions(pitrInstructions(o.server))}` : '';
  const measured = o.figures ? `\nmeasured: ${describeFigures(o.figures)}` : '';
  return `restored "${o.database}" from base backup ${o.baseBackupId} to LSN ${o.reachedLsn}${last}; promoted on timeline ${o.newTimeline}, ${where}${o.note ? `\nnote: ${o.note}` : ''}${measured}${instructions}\n`;
}

/** Prints the started restore's workflow id, or with --wait its outcome. */
export async function printPitrRestore(
  started: { workflowId: string; result(): Promise<PitrOutcome> },
  options: { wait: boolean; json: boolean },
): Promise<void> {
  const { workflowId } = started;
  if (!options.wait) {
    if (options.json) printJson({ workflowId });
    else process.stdout.write(`${workflowId}\n`);
    return;
  }
  const outcome = await started.result();
  if (options.json)
    printJson({ ...outcome, workflowId, instructions: outcome.server ? pitrInstructions(outcome.server) : null });
  else process.stdout.write(describeOutcome(outcome));
}
