import type { Lsn } from './lsn.js';

/** A column's value as pgoutput sends it: its text output, NULL, or "unchanged TOASTed value, not sent". */
export const UNCHANGED = Symbol('unchanged toast');
export type WireValue = string | null | typeof UNCHANGED;

export interface RelationColumn {
  readonly name: string;
  readonly typeOid: number;
  readonly typeMod: number;
  /** Part of the replica identity. */
  readonly key: boolean;
}

export type PgOutputMessage =
  | { readonly tag: 'begin'; readonly finalLsn: Lsn; readonly commitTime: bigint; readonly xid: number }
  | { readonly tag: 'commit'; readonly commitLsn: Lsn; readonly endLsn: Lsn; readonly commitTime: bigint }
  | { readonly tag: 'origin' }
  | { readonly tag: 'type'; readonly typeOid: number }
  | {
      readonly tag: 'relation';
      readonly relationOid: number;
      readonly schema: string;
      readonly name: string;
      readonly replicaIdentity: string;
      readonly columns: readonly RelationColumn[];
    }
  | { readonly tag: 'insert'; readonly relationOid: number; readonly values: readonly WireValue[] }
  | {
      readonly tag: 'update';
      readonly relationOid: number;
      readonly old: readonly WireValue[] | null;
      readonly oldIsKeyOnly: boolean;
      readonly values: readonly WireValue[];
    }
  | { readonly tag: 'delete'; readonly relationOid: number; readonly old: readonly WireValue[]; readonly oldIsKeyOnly: boolean }
  | { readonly tag: 'truncate'; readonly relationOids: readonly number[]; readonly cascade: boolean; readonly restartIdentity: boolean }
  | { readonly tag: 'message'; readonly transactional: boolean; readonly lsn: Lsn; readonly prefix: string; readonly content: Buffer };

/** Decodes one pgoutput message (protocol version 1, the body of an XLogData). */
export function decodePgOutput(buf: Buffer): PgOutputMessage {
  const r = new Reader(buf);
  const tag = String.fromCharCode(r.u8());
  switch (tag) {
    case 'B':
      return { tag: 'begin', finalLsn: r.u64(), commitTime: r.i64(), xid: r.u32() };
    case 'C': {
      r.u8(); // flags, unused
      return { tag: 'commit', commitLsn: r.u64(), endLsn: r.u64(), commitTime: r.i64() };
    }
    case 'O':
      return { tag: 'origin' };
    case 'Y':
      return { tag: 'type', typeOid: r.u32() };
    case 'R': {
      const relationOid = r.u32();
      const schema = r.cstring();
      const name = r.cstring();
      const replicaIdentity = String.fromCharCode(r.u8());
      const count = r.i16();
      const columns: RelationColumn[] = [];
      for (let i = 0; i < count; i++) {
        const flags = r.u8();
        columns.push({ key: (flags & 1) === 1, name: r.cstring(), typeOid: r.u32(), typeMod: r.i32() });
      }
      return { tag: 'relation', relationOid, schema, name, replicaIdentity, columns };
    }
    case 'I': {
      const relationOid = r.u32();
      r.expect('N');
      return { tag: 'insert', relationOid, values: r.tuple() };
    }
    case 'U': {
      const relationOid = r.u32();
      let kind = String.fromCharCode(r.u8());
      let old: WireValue[] | null = null;
      const oldIsKeyOnly = kind === 'K';
      if (kind === 'K' || kind === 'O') {
        old = r.tuple();
        kind = String.fromCharCode(r.u8());
      }
      if (kind !== 'N') throw new Error(`pgoutput: unexpected update part ${JSON.stringify(kind)}`);
      return { tag: 'update', relationOid, old, oldIsKeyOnly, values: r.tuple() };
    }
    case 'D': {
      const relationOid = r.u32();
      const kind = String.fromCharCode(r.u8());
      if (kind !== 'K' && kind !== 'O') throw new Error(`pgoutput: unexpected delete part ${JSON.stringify(kind)}`);
      return { tag: 'delete', relationOid, oldIsKeyOnly: kind === 'K', old: r.tuple() };
    }
    case 'T': {
      const count = r.u32();
      const flags = r.u8();
      const relationOids: number[] = [];
      for (let i = 0; i < count; i++) relationOids.push(r.u32());
      return { tag: 'truncate', relationOids, cascade: (flags & 1) !== 0, restartIdentity: (flags & 2) !== 0 };
    }
    case 'M': {
      const flags = r.u8();
      const lsn = r.u64();
      const prefix = r.cstring();
      const length = r.u32();
      // A copy: the message buffer is pg's read buffer, reused for the next read.
      return { tag: 'message', transactional: (flags & 1) !== 0, lsn, prefix, content: Buffer.from(r.bytes(length)) };
    }
    default:
      throw new Error(`pgoutput: unknown message type ${JSON.stringify(tag)}`);
  }
}

class Reader {
  private at = 0;
  constructor(private readonly buf: Buffer) {}

  u8(): number {
    return this.buf.readUInt8(this.at++);
  }
  i16(): number {
    const v = this.buf.readInt16BE(this.at);
    this.at += 2;
    return v;
  }
  i32(): number {
    const v = this.buf.readInt32BE(this.at);
    this.at += 4;
    return v;
  }
  u32(): number {
    const v = this.buf.readUInt32BE(this.at);
    this.at += 4;
    return v;
  }
  u64(): bigint {
    const v = this.buf.readBigUInt64BE(this.at);
    this.at += 8;
    return v;
  }
  i64(): bigint {
    const v = this.buf.readBigInt64BE(this.at);
    this.at += 8;
    return v;
  }
  cstring(): string {
    const end = this.buf.indexOf(0, this.at);
    if (end < 0) throw new Error('pgoutput: unterminated string');
    const s = this.buf.toString('utf8', this.at, end);
    this.at = end + 1;
    return s;
  }
  bytes(length: number): Buffer {
    const b = this.buf.subarray(this.at, this.at + length);
    this.at += length;
    return b;
  }
  expect(kind: string): void {
    const got = String.fromCharCode(this.u8());
    if (got !== kind) throw new Error(`pgoutput: expected ${kind}, got ${JSON.stringify(got)}`);
  }
  tuple(): WireValue[] {
    const count = this.i16();
    const values = new Array<WireValue>(count);
    for (let i = 0; i < count; i++) {
      const kind = this.u8();
      if (kind === 0x6e /* n */) values[i] = null;
      else if (kind === 0x75 /* u */) values[i] = UNCHANGED;
      else if (kind === 0x74 /* t */) {
        const length = this.u32();
        values[i] = this.buf.toString('utf8', this.at, this.at + length);
        this.at += length;
      } else throw new Error(`pgoutput: unexpected column kind ${JSON.stringify(String.fromCharCode(kind))}`);
    }
    return values;
  }
}
