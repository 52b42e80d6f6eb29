/**
 * Kafka behind TcpProxy. A Kafka client only bootstraps from the address it
 * is given: afterwards it connects to the host:port each broker advertises in
 * Metadata responses, which would bypass a plain proxy. So there is one proxy
 * per broker, and each rewrites the broker list of Metadata responses (API
 * key 3) to the proxies' addresses. kafkajs speaks Metadata v0..v6, whose
 * broker list sits right after the header, so only that part is rebuilt and
 * the rest of the response is copied as it is. librdkafka's mock cluster
 * binds random ports and advertises them (no setting chooses them), so
 * rewriting is the only way to put it behind a proxy.
 */
import { Kafka, logLevel } from 'kafkajs';
import { TcpProxy, type ConnectionRewrites, type ProxyMode } from './tcp-proxy.js';

const METADATA = 3;
/** From v9 on Metadata uses compact (varint) encodings, which this rewrite does not parse. */
const LAST_PLAIN_METADATA_VERSION = 8;

type Address = { host: string; port: number };

/** One proxy per broker of the cluster; `brokers` are the addresses to give the bridge. */
export class KafkaProxies {
  private constructor(private readonly proxies: readonly TcpProxy[]) {}

  static async start(bootstrap: readonly string[]): Promise<KafkaProxies> {
    const advertised = await advertisedBrokers(bootstrap);
    const byUpstream = new Map<string, Address>();
    const proxies = advertised.map(
      ({ host, port }) => new TcpProxy(host, port, { rewrites: () => metadataRewrites((a) => byUpstream.get(`${a.host}:${a.port}`)) }),
    );
    for (const [i, proxy] of proxies.entries()) {
      await proxy.start();
      byUpstream.set(`${advertised[i].host}:${advertised[i].port}`, { host: '127.0.0.1', port: proxy.port });
    }
    return new KafkaProxies(proxies);
  }

  get brokers(): string[] {
    return this.proxies.map((p) => p.address);
  }

  get accepted(): number {
    return this.proxies.reduce((sum, p) => sum + p.accepted, 0);
  }

  setMode(mode: ProxyMode): void {
    for (const proxy of this.proxies) {
      if (mode === 'drop') proxy.drop();
      else if (mode === 'black-hole') proxy.blackHole();
      else proxy.restore();
    }
  }

  async stop(): Promise<void> {
    await Promise.all(this.proxies.map((p) => p.stop()));
  }
}

async function advertisedBrokers(bootstrap: readonly string[]): Promise<Address[]> {
  const admin = new Kafka({ clientId: 'pgbridge-faults', brokers: [...bootstrap], logLevel: logLevel.NOTHING }).admin();
  await admin.connect();
  try {
    return (await admin.describeCluster()).brokers.map(({ host, port }) => ({ host, port }));
  } finally {
    await admin.disconnect();
  }
}

/** Splits a byte stream into size-prefixed Kafka frames, across chunk boundaries. */
function frames(onFrame: (frame: Buffer) => Buffer): (chunk: Buffer) => Buffer {
  let pending: Buffer = Buffer.alloc(0);
  return (chunk) => {
    pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
    const out: Buffer[] = [];
    while (pending.length >= 4 && pending.length >= 4 + pending.readInt32BE(0)) {
      const end = 4 + pending.readInt32BE(0);
      out.push(onFrame(pending.subarray(0, end)));
      pending = pending.subarray(end);
    }
    return Buffer.concat(out);
  };
}

/** Per connection: remembers which request each correlation id was, and rewrites the Metadata answers. */
function metadataRewrites(map: (advertised: Address) => Address | undefined): ConnectionRewrites {
  const metadataVersions = new Map<number, number>();
  return {
    toServer: frames((frame) => {
      const apiKey = frame.readInt16BE(4);
      if (apiKey === METADATA) metadataVersions.set(frame.readInt32BE(8), frame.readInt16BE(6));
      return frame;
    }),
    toClient: frames((frame) => {
      const correlationId = frame.readInt32BE(4);
      const version = metadataVersions.get(correlationId);
      if (version === undefined) return frame;
      metadataVersions.delete(correlationId);
      return rewriteMetadata(frame, version, map);
    }),
  };
}

function rewriteMetadata(frame: Buffer, version: number, map: (advertised: Address) => Address | undefined): Buffer {
  if (version > LAST_PLAIN_METADATA_VERSION) throw new Error(`kafka proxy: Metadata v${version} is not supported`);
  let at = version >= 3 ? 12 : 8; // size, correlation id, throttle_time_ms from v3
  const head = frame.subarray(4, at);
  const count = frame.readInt32BE(at);
  at += 4;
  const brokers: Buffer[] = [];
  for (let i = 0; i < count; i++) {
    const nodeId = frame.readInt32BE(at);
    const hostLength = frame.readInt16BE(at + 4);
    const host = frame.toString('utf8', at + 6, at + 6 + hostLength);
    at += 6 + hostLength;
    const port = frame.readInt32BE(at);
    at += 4;
    let rack: Buffer = Buffer.alloc(0);
    if (version >= 1) {
      const rackLength = frame.readInt16BE(at);
      rack = frame.subarray(at, at + 2 + Math.max(0, rackLength));
      at += rack.length;
    }
    const target = map({ host, port }) ?? { host, port };
    brokers.push(int32(nodeId), kafkaString(target.host), int32(target.port), rack);
  }
  const body = Buffer.concat([head, int32(count), ...brokers, frame.subarray(at)]);
  return Buffer.concat([int32(body.length), body]);
}

function int32(value: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeInt32BE(value);
  return b;
}

function kafkaString(text: string): Buffer {
  const bytes = Buffer.from(text, 'utf8');
  const length = Buffer.alloc(2);
  length.writeInt16BE(bytes.length);
  return Buffer.concat([length, bytes]);
}
