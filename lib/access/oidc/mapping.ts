/**
 * From a provider's claim (e.g. `groups`) to workspace roles: each mapping whose value the claim
 * holds gives its role in its workspace, and within a workspace the highest role wins. Pure, so
 * that the rule is tested without a provider.
 */
import { ROLES, type Role } from '../../catalog/roles.ts';
import { NAME_SOURCE } from '../../names.ts';
import type { RoleMapping } from '../../catalog/identity-providers.ts';

/** The claim's values: a string, a list of strings, or nothing (numbers and booleans as text). */
export function claimValues(claim: unknown): string[] {
  const values = Array.isArray(claim) ? claim : claim === undefined || claim === null ? [] : [claim];
  return values.filter((v) => ['string', 'number', 'boolean'].includes(typeof v)).map(String);
}

const rank = (role: Role) => ROLES.length - ROLES.indexOf(role);

/** Workspace name → the role the claim gives there; a workspace the claim gives nothing in is absent. */
export function mappedRoles(mappings: readonly RoleMapping[], claim: unknown): Map<string, Role> {
  const held = new Set(claimValues(claim));
  const roles = new Map<string, Role>();
  for (const m of mappings) {
    if (!held.has(m.value)) continue;
    const current = roles.get(m.workspace);
    if (!current || rank(m.role) > rank(current)) roles.set(m.workspace, m.role);
  }
  return roles;
}

/** Parses `value=workspace:role` as the CLI takes a mapping. */
export function parseMapping(text: string): RoleMapping | undefined {
  const match = new RegExp(`^(.+)=(${NAME_SOURCE}):(${ROLES.join('|')})$`).exec(text.trim());
  return match ? { value: match[1]!, workspace: match[2]!, role: match[3] as Role } : undefined;
}
