import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  deserializeError,
  fromPlaneSchema,
  parseMessage,
  serializeError,
  toPlaneSchema,
} from '../../lib/dataplane/protocol.ts';
import { dataPlaneMode } from '../../lib/dataplane/index.ts';
import { HindsightError } from '../../lib/errors.ts';

const job = () => ({
  databaseName: 'shop',
  backupId: '2026-12-07T05-00-00Z',
  target: { host: 'db.internal', port: 5432, database: 'shop', user: 'backup', password: 'pw' },
  destinations: [
    { name: 'local', config: { type: 'local', path: '/srv/backups' } },
    {
      name: 'offsite',
      config: { type: 's3', bucket: 'b', region: 'eu-west-1', accessKeyId: 'a', secretAccessKey: 's' },
    },
  ],
  key: { id: '0123456789abcdef', bytes: new Uint8Array(32).fill(7) },
});

const refusal = (raw: unknown, from = 'the worker') => {
  try {
    parseMessage(toPlaneSchema, raw, from);
  } catch (error) {
    assert.ok(error instanceof HindsightError);
    assert.equal(error.kind, 'bad_input');
    return error.message;
  }
  assert.fail('the message was accepted');
};

test('a dump job parses with its storages and its key bytes', () => {
  const parsed = parseMessage(toPlaneSchema, { type: 'dump', jobId: 1, job: job() }, 'the worker');
  assert.equal(parsed.type, 'dump');
  if (parsed.type !== 'dump') return;
  assert.deepEqual(
    parsed.job.destinations.map((d) => d.config.type),
    ['local', 's3'],
  );
  assert.equal(parsed.job.key.bytes.length, 32);
});

test('a job is refused by the field that is wrong', () => {
  const short = { ...job(), key: { id: '0123456789abcdef', bytes: new Uint8Array(16) } };
  assert.match(
    refusal({ type: 'dump', jobId: 1, job: short }),
    /from the worker was refused: job\.key\.bytes: the secret key must be 32 bytes/,
  );
  const hexKey = { ...job(), key: { id: '0123456789abcdef', bytes: 'aa'.repeat(32) } };
  assert.match(refusal({ type: 'dump', jobId: 1, job: hexKey }), /job\.key\.bytes/, 'a key as text is refused');
  const relative = { ...job(), destinations: [{ name: 'local', config: { type: 'local', path: 'backups' } }] };
  assert.match(
    refusal({ type: 'dump', jobId: 1, job: relative }),
    /job\.destinations\.0\.config\.path: path must be absolute/,
  );
  assert.match(refusal({ type: 'dump', jobId: 1, job: { ...job(), destinations: [] } }), /job\.destinations/);
  assert.match(refusal({ type: 'restore', jobId: 1 }), /type/);
  assert.match(refusal({ type: 'cancel', jobId: 'one' }), /jobId/);
});

test('a result from the plane must carry a well-formed manifest', () => {
  const done = { type: 'done', jobId: 4, result: { manifest: { format: 'something-else' }, copies: [] } };
  assert.throws(
    () => parseMessage(fromPlaneSchema, done, 'the data plane'),
    /a message from the data plane was refused: result\.manifest\.format/,
  );
  const progress = parseMessage(
    fromPlaneSchema,
    { type: 'progress', jobId: 4, progress: { dumpBytes: 10, storedBytes: 12 } },
    'the data plane',
  );
  assert.deepEqual(progress, { type: 'progress', jobId: 4, progress: { dumpBytes: 10, storedBytes: 12 } });
});

test('errors keep their kind across the port; other errors keep name and message', () => {
  const kinded = deserializeError(serializeError(new HindsightError('no_space', 'storage "local": disk full')));
  assert.ok(kinded instanceof HindsightError);
  assert.equal(kinded.kind, 'no_space');
  assert.equal(kinded.message, 'storage "local": disk full');
  const plain = deserializeError(serializeError(new TypeError('x is not a function')));
  assert.ok(!(plain instanceof HindsightError));
  assert.equal(plain.name, 'TypeError');
  assert.equal(plain.message, 'x is not a function');
  assert.equal(deserializeError(serializeError('thrown text')).message, 'thrown text');
});

test('HINDSIGHT_DATA_PLANE chooses the runner, thread by default, and a bad value is named', () => {
  assert.equal(dataPlaneMode({}), 'thread');
  assert.equal(dataPlaneMode({ HINDSIGHT_DATA_PLANE: '' }), 'thread');
  assert.equal(dataPlaneMode({ HINDSIGHT_DATA_PLANE: 'inline' }), 'inline');
  assert.throws(
    () => dataPlaneMode({ HINDSIGHT_DATA_PLANE: 'process' }),
    /HINDSIGHT_DATA_PLANE must be thread or inline, not "process"/,
  );
});
