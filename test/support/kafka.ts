/**
 * A real Kafka-protocol broker for tests: $KAFKA_BROKERS when set, otherwise
 * librdkafka's mock cluster (3 brokers) served by Debian's kcat. The mock
 * speaks the wire protocol, so kafkajs talks to it as to Kafka. Its quirks:
 * no idempotent producer ("Broker 0 not found"), no controller and no
 * CreateTopics (topics are auto-created with 4 partitions), and a consumer
 * group takes 3 s to join.
 */
import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process';
import type { Socket } from 'node:net';
import { promisify } from 'node:util';
import { Kafka, logLevel, type IHeaders } from 'kafkajs';

const run = promisify(execFile);

export interface MockCluster {
  readonly brokers: string[];
  /** Kills the brokers and resolves once they are gone; their ports then refuse connections. */
  stop(): Promise<void>;
  /** SIGSTOP: the brokers' sockets stay open, connects are still accepted by the kernel, nothing is answered. */
  freeze(): void;
  /** SIGCONT: the brokers answer again, requests sent meanwhile included. */
  thaw(): void;
}

let shared: Promise<string[]> | undefined;

/** Broker addresses to test against; the shared mock cluster starts once per process. */
export function kafkaBrokers(): Promise<string[]> {
  const fromEnv = process.env.KAFKA_BROKERS;
  if (fromEnv)
    return Promise.resolve(
      fromEnv
        .split(',')
        .map((b) => b.trim())
        .filter(Boolean),
    );
  shared ??= startMockCluster().then((cluster) => cluster.brokers);
  return shared;
}

function hasKcat(): boolean {
  try {
    execFileSync('kcat', ['-V'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** kcat from Debian; `apt-get update` only when the install fails without it. */
export function ensureKcat(): void {
  if (hasKcat()) return;
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  const install = (): void => {
    execFileSync('apt-get', ['install', '-y', '--no-upgrade', 'kcat'], { stdio: 'ignore', env });
  };
  try {
    install();
  } catch {
    execFileSync('apt-get', ['update'], { stdio: 'ignore', env });
    install();
  }
}

/** Each running cluster's synchronous kill, for the process 'exit' hook. */
const running = new Map<MockCluster, () => unknown>();
let exitHookInstalled = false;

/**
 * A mock cluster of its own (for tests that kill it). kcat runs under a tiny
 * shell that kills it when our end of its stdin closes, which the OS does
 * however this process ends (even SIGKILL): no stray brokers. Without
 * `-d mock` librdkafka still prints the addresses once, at notice level, and
 * stays quiet afterwards.
 */
export async function startMockCluster(): Promise<MockCluster> {
  ensureKcat();
  // `wait` reaps kcat, so stopping leaves no zombie behind.
  const script = 'kcat "$@" & echo "kcat-pid=$!" >&2; read _; kill $! 2>/dev/null; wait';
  const args = ['-C', '-q', '-b', 'localhost:1', '-X', 'test.mock.num.brokers=3', '-t', '_boot'];
  const child = spawn('sh', ['-c', script, 'sh', ...args], { stdio: ['pipe', 'ignore', 'pipe'] });
  const { brokers, kcatPid } = await readBootstrap(child);
  // Keep draining stderr so kcat can never block on a full pipe, without keeping this process alive.
  child.stderr?.resume();
  child.unref();
  (child.stdin as Socket | null)?.unref();
  (child.stderr as Socket | null)?.unref();
  const cluster: MockCluster = {
    brokers,
    async stop() {
      if (!running.delete(cluster) || child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise<boolean>((resolve) => child.once('exit', () => resolve(true)));
      signal(kcatPid, 'SIGKILL');
      child.stdin?.end(); // the shell's `read` returns, it reaps kcat and exits
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), 5000)));
      const done = await Promise.race([exited, late]);
      clearTimeout(timer);
      if (!done) child.kill('SIGKILL');
    },
    freeze() {
      if (running.has(cluster)) signal(kcatPid, 'SIGSTOP');
    },
    thaw() {
      if (running.has(cluster)) signal(kcatPid, 'SIGCONT');
    },
  };
  // At exit only kcat needs killing: the OS closes our end of stdin and the shell reaps it.
  running.set(cluster, () => signal(kcatPid, 'SIGKILL'));
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.once('exit', () => running.forEach((kill) => kill()));
  }
  return cluster;
}

/** process.kill without the throw: false when there is no such process (a zombie still counts until reaped). */
function signal(pid: number, sig: NodeJS.Signals | 0): boolean {
  try {
    process.kill(pid, sig);
    return true;
  } catch {
    return false;
  }
}

const BOOTSTRAP = /(?:bootstrap\.servers=|replaced with )(\S+)/;

function readBootstrap(child: ChildProcess): Promise<{ brokers: string[]; kcatPid: number }> {
  return new Promise((resolve, reject) => {
    let text = '';
    const fail = (why: string): void => {
      clearTimeout(timer);
      child.kill();
      reject(new Error(`kcat mock cluster: ${why}\n${text}`));
    };
    const timer = setTimeout(() => fail('no bootstrap.servers within 10 s'), 10_000);
    const onExit = (code: number | null): void => fail(`exited with ${code}`);
    child.once('error', (err) => fail(err.message));
    child.once('exit', onExit);
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', function onData(chunk: string) {
      text += chunk;
      const pid = Number(/kcat-pid=(\d+)/.exec(text)?.[1]);
      const match = BOOTSTRAP.exec(text);
      if (!match || !pid) return;
      clearTimeout(timer);
      child.stderr?.off('data', onData);
      child.off('exit', onExit);
      resolve({ brokers: match[1].split(','), kcatPid: pid });
    });
  });
}

function client(brokers: string[]): Kafka {
  return new Kafka({ clientId: 'pgbridge-test', brokers, logLevel: logLevel.NOTHING });
}

/**
 * Creates `topic` with `partitions` partitions and returns how many it has.
 * The mock advertises no controller and has no CreateTopics: there the topic
 * is auto-created instead, always with 4 partitions.
 */
export async function createTopic(brokers: string[], topic: string, partitions: number): Promise<number> {
  const admin = client(brokers).admin();
  await admin.connect();
  try {
    const cluster = await admin.describeCluster();
    if (cluster.brokers.some((b) => b.nodeId === cluster.controller)) {
      await admin.createTopics({ topics: [{ topic, numPartitions: partitions }], waitForLeaders: true });
    }
    const { topics } = await admin.fetchTopicMetadata({ topics: [topic] });
    return topics[0].partitions.length;
  } finally {
    await admin.disconnect();
  }
}

export interface ReceivedMessage {
  readonly topic: string;
  readonly partition: number;
  readonly offset: number;
  /** null when the message had no key ('' is an empty key). */
  readonly key: string | null;
  readonly value: string | null;
  readonly headers: Record<string, string>;
}

const byPosition = (a: ReceivedMessage, b: ReceivedMessage): number => a.partition - b.partition || a.offset - b.offset;

interface KcatRecord {
  topic: string;
  partition: number;
  offset: number;
  key: string | null;
  payload: string | null;
  headers?: (string | null)[];
}

/**
 * Everything in `topic` now, read with kcat (librdkafka: a second client,
 * no consumer group, about 1 s), sorted by partition and offset. With
 * `atLeast`, reads again until that many are there or `timeoutMs` passes.
 */
export async function readTopic(
  brokers: string[],
  topic: string,
  { atLeast = 0, timeoutMs = 10_000 }: { atLeast?: number; timeoutMs?: number } = {},
): Promise<ReceivedMessage[]> {
  ensureKcat();
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const { stdout } = await run('kcat', ['-C', '-q', '-J', '-e', '-o', 'beginning', '-b', brokers.join(','), '-t', topic], {
      maxBuffer: 64 * 1024 * 1024,
      timeout: timeoutMs,
    });
    const messages = stdout
      .split('\n')
      .filter((line) => line.trim() !== '')
      .map((line) => fromKcat(JSON.parse(line) as KcatRecord))
      .sort(byPosition);
    if (messages.length >= atLeast || Date.now() > deadline) return messages;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

function fromKcat(record: KcatRecord): ReceivedMessage {
  const headers: Record<string, string> = {};
  const pairs = record.headers ?? [];
  for (let i = 0; i + 1 < pairs.length; i += 2) headers[pairs[i] ?? ''] = pairs[i + 1] ?? '';
  return { topic: record.topic, partition: record.partition, offset: record.offset, key: record.key, value: record.payload, headers };
}

function headerText(headers: IHeaders | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers ?? {})) {
    if (value === undefined) continue;
    out[name] = (Array.isArray(value) ? value : [value]).map((v) => v.toString()).join(',');
  }
  return out;
}

/**
 * Reads `topic` from the beginning with a kafkajs consumer in a fresh group
 * until `count` messages arrived (then `settleMs` more, to catch extras).
 * Sorted by partition and offset; rejects after `timeoutMs` saying how many came.
 */
export async function consumeMessages(
  brokers: string[],
  topic: string,
  count: number,
  { timeoutMs = 20_000, settleMs = 300 }: { timeoutMs?: number; settleMs?: number } = {},
): Promise<ReceivedMessage[]> {
  const consumer = client(brokers).consumer({
    groupId: `test-${topic}-${process.pid}-${Date.now()}`,
    heartbeatInterval: 500,
    maxWaitTimeInMs: 100,
  });
  const received: ReceivedMessage[] = [];
  let reached: () => void = () => {};
  const enough = new Promise<void>((resolve) => (reached = resolve));
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`got ${received.length} of ${count} messages from ${topic} in ${timeoutMs} ms`)), timeoutMs);
  });
  timedOut.catch(() => undefined); // observed by the race below; this only stops an early failure leaving it unhandled
  try {
    await consumer.connect();
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
    await consumer.run({
      eachMessage: async ({ topic: from, partition, message }) => {
        received.push({
          topic: from,
          partition,
          offset: Number(message.offset),
          key: message.key === null ? null : message.key.toString('utf8'),
          value: message.value === null ? null : message.value.toString('utf8'),
          headers: headerText(message.headers),
        });
        if (received.length >= count) reached();
      },
    });
    await Promise.race([enough, timedOut]);
    await new Promise((resolve) => setTimeout(resolve, settleMs));
  } finally {
    clearTimeout(timer);
    await consumer.disconnect();
  }
  return [...received].sort(byPosition);
}
