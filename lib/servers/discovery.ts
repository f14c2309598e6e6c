/**
 * What one run of a server with `--all-databases` does to the catalog, decided from two lists: the
 * databases the server has now and those it registered before. Pure, so that the rules (names,
 * excludes, dropped and reappearing databases, collisions) are tested without a server.
 */
import { createHash } from 'node:crypto';
import { NAME_PATTERN } from '../names.ts';

/** The most a Hindsight name holds (lib/names.ts). */
const NAME_MAX = 63;

/**
 * The name a discovered database is registered under: `<server>-<datname>` when that is already a
 * valid name. Otherwise (capitals, dots, spaces, too long) the datname is lowercased, every run of
 * other characters becomes "-", and a short hash of the exact datname is appended, so that two
 * datnames that clean up alike ("Shop" and "shop") never get the same name.
 */
export function databaseNameFor(server: string, datname: string): string {
  const plain = `${server}-${datname}`;
  if (NAME_PATTERN.test(plain)) return plain;
  const cleaned = datname
    .toLowerCase()
    .replace(/[^a-z0-9_-]+/g, '-')
    .replace(/^-+|-+$/g, '');
  const suffix = `-${createHash('sha256').update(datname).digest('hex').slice(0, 6)}`;
  const stem = `${server}-${cleaned}`.slice(0, NAME_MAX - suffix.length).replace(/-+$/, '');
  return `${stem}${suffix}`;
}

/** A shell-style pattern: `*` any run of characters, `?` one; everything else literal. */
export function matchesPattern(datname: string, pattern: string): boolean {
  const source = pattern
    .split('')
    .map((c) => (c === '*' ? '.*' : c === '?' ? '.' : c.replace(/[\\^$.|+()[\]{}]/g, '\\$&')))
    .join('');
  return new RegExp(`^${source}$`).test(datname);
}

export interface KnownDatabase {
  name: string;
  datname: string;
  droppedAt: Date | null;
}

export interface DiscoveryInput {
  server: string;
  /** The databases the server allows connections to, templates left out. */
  live: string[];
  /** The databases this server registered before. */
  known: KnownDatabase[];
  excludes: string[];
  includePostgres: boolean;
  /** Every registered database name that is not this server's: a new name must not be one of them. */
  taken: ReadonlySet<string>;
}

export interface DiscoveryPlan {
  /** New databases to register, with the name each gets. */
  register: Array<{ datname: string; name: string }>;
  /** Registered databases the server no longer has: mark them dropped. */
  dropped: string[];
  /** Databases marked dropped that the server has again: clear the mark. */
  reappeared: string[];
  /** Every database to back up in this run (registered ones first, new ones after). */
  backup: string[];
  /** Datnames left out by an exclude pattern or the postgres rule. */
  excluded: string[];
  /** New databases whose name is already taken: not registered, each with the reason. */
  collisions: Array<{ datname: string; name: string; reason: string }>;
}

const wanted = (input: DiscoveryInput, datname: string) =>
  (input.includePostgres || datname !== 'postgres') && !input.excludes.some((p) => matchesPattern(datname, p));

export function planDiscovery(input: DiscoveryInput): DiscoveryPlan {
  const live = new Set(input.live);
  const byDatname = new Map(input.known.map((k) => [k.datname, k]));
  const plan: DiscoveryPlan = { register: [], dropped: [], reappeared: [], backup: [], excluded: [], collisions: [] };
  const claimed = new Set([...input.taken, ...input.known.map((k) => k.name)]);
  const fresh: string[] = [];
  for (const datname of [...input.live].sort()) {
    if (!wanted(input, datname)) {
      plan.excluded.push(datname);
      continue;
    }
    const known = byDatname.get(datname);
    if (known) {
      if (known.droppedAt !== null) plan.reappeared.push(known.name);
      plan.backup.push(known.name);
      continue;
    }
    const name = databaseNameFor(input.server, datname);
    if (claimed.has(name)) {
      const reason = `database "${name}" is already registered and is not this server's "${datname}": rename it (hindsight db update ${name} --name …) or exclude "${datname}" (hindsight server update ${input.server} --exclude ${datname})`;
      plan.collisions.push({ datname, name, reason });
      continue;
    }
    claimed.add(name);
    plan.register.push({ datname, name });
    fresh.push(name);
  }
  for (const known of input.known) {
    if (!live.has(known.datname) && known.droppedAt === null) plan.dropped.push(known.name);
  }
  plan.backup.push(...fresh);
  return plan;
}
