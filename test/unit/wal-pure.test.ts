import assert from 'node:assert/strict';
import { test } from 'node:test';
import { AckTracker } from '../../src/source/wal/ack-tracker.js';
import { FullXid } from '../../src/source/wal/full-xid.js';
import { renderValue, type JsonKind } from '../../src/source/wal/json-render.js';
import { formatLsn, parseLsn } from '../../src/source/wal/lsn.js';
import { pgMicrosToIso } from '../../src/source/wal/pg-time.js';
import { decodePgOutput, UNCHANGED, type WireValue } from '../../src/source/wal/pgoutput.js';
import { RelationShape, rowObject } from '../../src/source/wal/relation-cache.js';
import { missingOldRow, partialRow, withoutUnchanged } from '../../src/source/wal/missing-old-row.js';

const num: JsonKind = { kind: 'number' };
const str: JsonKind = { kind: 'string' };

test('to_json rendering of text output', () => {
  assert.equal(renderValue('9007199254740993', num), '9007199254740993');
  assert.equal(renderValue('NaN', num), '"NaN"');
  assert.equal(renderValue('-Infinity', num), '"-Infinity"');
  assert.equal(renderValue('1e+300', num), '1e+300');
  assert.equal(renderValue('t', { kind: 'bool' }), 'true');
  assert.equal(renderValue('2026-01-01 10:00:00+05', { kind: 'timestamptz' }), '"2026-01-01T10:00:00+05:00"');
  assert.equal(renderValue('0044-03-15 10:00:00+00:53:28 BC', { kind: 'timestamptz' }), '"0044-03-15T10:00:00+00:53:28 BC"');
  assert.equal(renderValue('1850-01-01 10:00:00-03 BC', { kind: 'timestamptz' }), '"1850-01-01T10:00:00-03:00 BC"');
  assert.equal(renderValue('infinity', { kind: 'timestamp' }), '"infinity"');
  assert.equal(renderValue('[0:1]={1,NULL}', { kind: 'array', element: num, delimiter: ',' }), '[1,null]');
  assert.equal(
    renderValue('{{"a,b",NULL},{"\\"q\\"","NULL"}}', { kind: 'array', element: str, delimiter: ',' }),
    '[["a,b",null],["\\"q\\"","NULL"]]',
  );
  assert.equal(renderValue('{(1,2);(3,4)}', { kind: 'array', element: str, delimiter: ';' }), '["(1,2)","(3,4)"]');
  const pair: JsonKind = {
    kind: 'composite',
    fields: [
      { name: 'n', type: num },
      { name: 's', type: str },
      { name: 'e', type: str },
    ],
  };
  assert.equal(renderValue('(1,"a ""b"" \\\\c",)', pair), '{"n":1,"s":"a \\"b\\" \\\\c","e":null}');
  assert.equal(renderValue('(,"",x)', pair), '{"n":null,"s":"","e":"x"}');
});

test('AckTracker confirms whole transactions in commit order only', () => {
  const confirmed: string[] = [];
  const tracker = new AckTracker(0n, (lsn) => confirmed.push(formatLsn(lsn)));
  const a = tracker.begin();
  tracker.hold(a);
  tracker.hold(a);
  tracker.commit(a, 0x100n);
  const b = tracker.begin();
  tracker.hold(b);
  tracker.commit(b, 0x200n);
  tracker.settle(b);
  assert.deepEqual(confirmed, [], 'b is done but a is not');
  tracker.passIdle(0x300n);
  assert.deepEqual(confirmed, [], 'not idle');
  tracker.settle(a);
  assert.deepEqual(confirmed, []);
  tracker.settle(a);
  assert.deepEqual(confirmed, ['0/200'], 'a and b at once');
  const c = tracker.begin();
  tracker.hold(c);
  tracker.abandon(c);
  assert.equal(tracker.idle, true, 'an abandoned transaction holds nothing back');
  tracker.passIdle(0x300n);
  assert.deepEqual(confirmed, ['0/200', '0/300']);
  tracker.passIdle(0x250n);
  assert.deepEqual(confirmed, ['0/200', '0/300'], 'never backwards');
});

test('AckTracker behind a waiting transaction keeps each run of settled ones as one, and still confirms in order', () => {
  const confirmed: bigint[] = [];
  const tracker = new AckTracker(0n, (lsn) => confirmed.push(lsn));
  const first = tracker.begin();
  tracker.hold(first);
  tracker.commit(first, 1n);
  const late: ReturnType<AckTracker['begin']>[] = [];
  for (let i = 2; i <= 100_000; i++) {
    const tx = tracker.begin();
    tracker.hold(tx);
    tracker.commit(tx, BigInt(i));
    if (i % 10_000 === 0) late.push(tx);
    else tracker.settle(tx);
  }
  assert.ok(tracker.waiting < 5000, `${tracker.waiting} transactions kept for 100,000, 11 of them unsettled`);
  assert.deepEqual(confirmed, []);
  tracker.settle(first);
  assert.deepEqual(confirmed, [9_999n], 'up to the first unsettled one');
  for (const tx of late.slice(1)) tracker.settle(tx);
  assert.deepEqual(confirmed, [9_999n], 'the first late one still holds the rest');
  tracker.settle(late[0]);
  assert.deepEqual(confirmed, [9_999n, 100_000n]);
  assert.equal(tracker.idle, true);
});

test('FullXid puts the epoch back', () => {
  const xids = new FullXid((5n << 32n) | 100n);
  assert.equal(xids.full(90), ((5n << 32n) | 90n).toString());
  assert.equal(xids.full(200), ((5n << 32n) | 200n).toString());
  assert.equal(xids.full(0xfffffff0), ((4n << 32n) | 0xfffffff0n).toString(), 'just before the wraparound: the previous epoch');
});

test('LSN text and commit time', () => {
  assert.equal(formatLsn(parseLsn('16/B374D848')), '16/B374D848');
  assert.equal(pgMicrosToIso(0n), '2000-01-01T00:00:00.000000+00:00');
  assert.equal(pgMicrosToIso(849469036835702n), '2026-12-01T19:37:16.835702+00:00');
});

test('pgoutput: an update with the old tuple and an unchanged TOAST value', () => {
  const tuple = (values: Array<string | null | 'u'>) => {
    const parts = [Buffer.from([0, values.length])];
    for (const v of values) {
      if (v === null) parts.push(Buffer.from('n'));
      else if (v === 'u') parts.push(Buffer.from('u'));
      else {
        const len = Buffer.alloc(4);
        len.writeUInt32BE(Buffer.byteLength(v));
        parts.push(Buffer.from('t'), len, Buffer.from(v));
      }
    }
    return Buffer.concat(parts);
  };
  const rel = Buffer.alloc(4);
  rel.writeUInt32BE(1234);
  const msg = decodePgOutput(
    Buffer.concat([Buffer.from('U'), rel, Buffer.from('O'), tuple(['1', 'big', null]), Buffer.from('N'), tuple(['1', 'u', 'x'])]),
  );
  assert.deepEqual(msg, { tag: 'update', relationOid: 1234, old: ['1', 'big', null], oldIsKeyOnly: false, values: ['1', UNCHANGED, 'x'] });
});

test('rowObject: every column, a listed subset in its order, dropped columns left out', () => {
  const column = (name: string, wire: number, kind: JsonKind) => ({
    name,
    wire,
    kind,
    serverRendered: false,
    expr: null,
    sqlType: 'text',
    replicaKey: false,
  });
  const shape = new RelationShape(1, 'public', 't', 'f', ['id'], [column('id', 0, num), column('na"me', 1, str), column('n', 2, num)], 3);
  const row = shape.render(['7', 'x\n"y', null], async () => Promise.reject(new Error('no server rendering here')));
  assert.ok(!(row instanceof Promise));
  assert.equal(rowObject(row, null), '{"id":7,"na\\"me":"x\\n\\"y","n":null}');
  assert.equal(rowObject(row, ['n', 'gone', 'id']), '{"n":null,"id":7}');
  assert.equal(rowObject(row, shape.primaryKey), '{"id":7}');
  assert.equal(rowObject(row, ['gone']), '{}');
  assert.equal(rowObject(row, []), '{}');
  const other = shape.render(['8', '', '1.5'], async () => Promise.reject(new Error('unused')));
  assert.ok(!(other instanceof Promise));
  assert.equal(rowObject(other, null), '{"id":8,"na\\"me":"","n":1.5}', 'the same plan, the next row');
  assert.equal(rowObject(row, null), JSON.stringify({ id: 7, 'na"me': 'x\n"y', n: null }));
});

test('a change without the whole old row: what the WAL record has, restricted to the capture columns', () => {
  // Primary key id; replica identity USING INDEX on code (a key-only old row has code alone).
  const column = (name: string, wire: number, replicaKey = false) => ({
    name,
    wire,
    kind: name === 'id' ? num : str,
    serverRendered: false,
    expr: null,
    sqlType: 'text',
    replicaKey,
  });
  const shape = new RelationShape(1, 'public', 't', 'i', ['id'], [column('id', 0), column('code', 1, true), column('big', 2)], 3);
  const render = (values: Parameters<RelationShape['render']>[0]) => shape.render(values, async () => Promise.reject(new Error('unused')));
  const whole = ['1', 'a', 'x'];
  assert.equal(missingOldRow(shape, 'insert', whole, null, false), undefined);
  assert.equal(missingOldRow(shape, 'update', ['1', 'a', UNCHANGED], whole, false), undefined, 'FULL: the old row fills it in');

  const values: WireValue[] = ['1', 'b', UNCHANGED];
  const noOld = missingOldRow(shape, 'update', values, null, false)!;
  assert.deepEqual(noOld, { old: 'none', unchanged: ['big'] });
  const newRow = render(withoutUnchanged(values));
  assert.ok(!(newRow instanceof Promise));
  assert.deepEqual(partialRow('update', null, noOld, newRow, null), { data: '{"id":1,"code":"b"}', old: null, key: '{"id":1}' });
  assert.deepEqual(partialRow('update', ['big', 'id'], noOld, newRow, null), { data: '{"id":1}', old: null, key: '{"id":1}' });

  const keyOld = [null, 'a', null];
  const deleted = missingOldRow(shape, 'delete', null, keyOld, true)!;
  assert.deepEqual(deleted, { old: 'key', unchanged: [] });
  const oldRow = render(keyOld);
  assert.ok(!(oldRow instanceof Promise));
  assert.deepEqual(
    partialRow('delete', null, deleted, null, oldRow),
    { data: '{"code":"a"}', old: '{"code":"a"}', key: null },
    'no primary key in it',
  );
});
