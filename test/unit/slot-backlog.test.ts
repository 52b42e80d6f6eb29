import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isDeliverable } from '../../src/install/deliverable-change.js';
import { activeSlotError, backlogWarning, slotDropRefusal } from '../../src/install/slot-drop.js';
import type { PgOutputMessage } from '../../src/source/wal/pgoutput.js';

const message = (prefix: string, transactional = true): PgOutputMessage => ({
  tag: 'message',
  transactional,
  lsn: 1n,
  prefix,
  content: Buffer.from('x'),
});

test('what a slot would still deliver: row changes, channel messages, this instance’s backfill READs', () => {
  const deliverable: PgOutputMessage[] = [
    { tag: 'insert', relationOid: 1, values: ['1'] },
    { tag: 'update', relationOid: 1, old: null, oldIsKeyOnly: false, values: ['1'] },
    { tag: 'delete', relationOid: 1, old: ['1'], oldIsKeyOnly: true },
    { tag: 'truncate', relationOids: [1], cascade: false, restartIdentity: false },
    message('pgbridge:jobs'),
    message('pgbridge-read:a'),
    message('pgbridge-read'),
  ];
  for (const msg of deliverable)
    assert.equal(
      isDeliverable(msg, 'a'),
      true,
      JSON.stringify(msg, (_k, v: unknown) => (typeof v === 'bigint' ? `${v}` : v)),
    );
  const not: PgOutputMessage[] = [
    { tag: 'begin', finalLsn: 1n, commitTime: 0n, xid: 1 },
    { tag: 'commit', commitLsn: 1n, endLsn: 2n, commitTime: 0n },
    { tag: 'relation', relationOid: 1, schema: 'public', name: 't', replicaIdentity: 'f', columns: [] },
    { tag: 'type', typeOid: 1 },
    { tag: 'origin' },
    message('pgbridge-heartbeat', false),
    message('pgbridge:jobs', false),
    message('pgbridge-read:b'),
    message('someone-else'),
  ];
  for (const msg of not) assert.equal(isDeliverable(msg, 'a'), false, `${msg.tag} ${'prefix' in msg ? msg.prefix : ''}`);
});

test('a slot drop is refused while streamed from (install and uninstall), with a backlog only by install', () => {
  const idle = { slot: 's1', activePid: null, undelivered: 0 };
  const held = { slot: 's2', activePid: null, undelivered: 1 };
  const active = { slot: 's3', activePid: 6442, undelivered: 0 };
  assert.equal(slotDropRefusal([idle], true), undefined);
  assert.equal(slotDropRefusal([held], false), undefined);
  assert.match(slotDropRefusal([idle, held], true)!, /^replication slot s2 holds at least 1 undelivered change, which this install would drop; /);
  const streaming = 'a pgbridge run (walsender PID 6442) is streaming from replication slot s3: stop it first';
  assert.equal(slotDropRefusal([held, active], true), streaming);
  assert.equal(slotDropRefusal([active], false), streaming);
  const unknown = { slot: 's4', activePid: null, undelivered: 0, unreadable: 'publication "p" does not exist' };
  assert.match(
    slotDropRefusal([unknown], true)!,
    /^cannot tell whether replication slot s4 holds undelivered changes \(publication "p" does not exist\); /,
  );
  assert.equal(slotDropRefusal([unknown], false), undefined);
});

test("Postgres' error for a slot that became active before the drop, in the same words", () => {
  const err = Object.assign(new Error('replication slot "s3" is active for PID 6442'), { code: '55006' });
  assert.equal(activeSlotError(err)?.message, 'a pgbridge run (walsender PID 6442) is streaming from replication slot s3: stop it first');
  assert.equal(activeSlotError(new Error('connection terminated')), undefined);
});

test('the comment `pgbridge sql` prints before dropping a slot', () => {
  assert.equal(backlogWarning({ slot: 's', activePid: null, undelivered: 0 }), undefined);
  assert.equal(
    backlogWarning({ slot: 's', activePid: null, undelivered: 25 }),
    '-- replication slot s holds at least 25 undelivered changes: applying this drops them',
  );
  assert.match(
    backlogWarning({ slot: 's', activePid: null, undelivered: 0, unreadable: 'two\nlines' })!,
    /^-- cannot tell whether replication slot s holds undelivered changes \(two lines\);[^\n]*$/,
  );
});
