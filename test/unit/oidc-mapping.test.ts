import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { claimValues, mappedRoles, parseMapping } from '../../lib/access/oidc/mapping.ts';
import type { RoleMapping } from '../../lib/catalog/identity-providers.ts';

const MAPPINGS: RoleMapping[] = [
  { value: 'dba', workspace: 'default', role: 'admin' },
  { value: 'readers', workspace: 'default', role: 'viewer' },
  { value: 'platform', workspace: 'default', role: 'owner' },
  { value: 'blue-team', workspace: 'blue', role: 'editor' },
];

const asObject = (roles: Map<string, string>) => Object.fromEntries([...roles].sort());

describe('claim mapping to workspace roles', () => {
  it('gives each workspace the highest role among the matching values', () => {
    assert.deepEqual(asObject(mappedRoles(MAPPINGS, ['readers', 'dba', 'blue-team'])), {
      blue: 'editor',
      default: 'admin',
    });
    assert.deepEqual(asObject(mappedRoles(MAPPINGS, ['platform', 'readers'])), { default: 'owner' });
    assert.deepEqual(asObject(mappedRoles(MAPPINGS, ['readers'])), { default: 'viewer' });
  });

  it('gives nothing for unmapped values, a missing claim, or values of another type', () => {
    assert.deepEqual(asObject(mappedRoles(MAPPINGS, ['marketing'])), {});
    assert.deepEqual(asObject(mappedRoles(MAPPINGS, undefined)), {});
    assert.deepEqual(asObject(mappedRoles(MAPPINGS, [{ name: 'dba' }, null])), {});
    assert.deepEqual(asObject(mappedRoles(MAPPINGS, 'DBA')), {}, 'values compare exactly');
  });

  it('reads a single string claim as one value', () => {
    assert.deepEqual(claimValues('dba'), ['dba']);
    assert.deepEqual(asObject(mappedRoles(MAPPINGS, 'dba')), { default: 'admin' });
  });

  it('parses value=workspace:role and refuses anything else', () => {
    assert.deepEqual(parseMapping('cn=ops,ou=groups=default:admin'), {
      value: 'cn=ops,ou=groups',
      workspace: 'default',
      role: 'admin',
    });
    for (const bad of ['dba', 'dba=default', 'dba=default:root', 'dba=Default:admin', '=default:admin'])
      assert.equal(parseMapping(bad), undefined, bad);
  });
});
