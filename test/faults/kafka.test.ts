/**
 * A Kafka sink behind one proxy per broker (Metadata rewritten so the bridge
 * never bypasses them) while rows stream in: every connection dropped, and
 * the brokers black-holed for longer than the sink's timeout. Outbox mode:
 * every event arrives (read back with kcat, straight from the brokers).
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test, type TestContext } from 'node:test';
import { Kafka, logLevel } from 'kafkajs';
import type { TestDatabase } from '../support/pg.js';
import { kafkaBrokers, readTopic } from '../support/kafka.js';
import { itemsDatabase } from '../integration/outbox-harness.js';
import { arrivalOf, FAST_RETRY, resetItems, startBridge, streamThroughFault, untilAllArrived } from './harness.js';
import { KafkaProxies } from './kafka-proxy.js';
import { tallyNoLoss, type Arrival } from './tally.js';

describe('faults: Kafka sink behind per-broker proxies', () => {
  let db: TestDatabase;
  let brokers: string[];
  let proxies: KafkaProxies;

  before(async () => {
    db = await itemsDatabase();
    brokers = await kafkaBrokers();
    proxies = await KafkaProxies.start(brokers);
  });
  after(async () => {
    await proxies?.stop();
    await db?.drop();
  });

  test('a client bootstrapped through the proxies is told the proxies, not the brokers', async () => {
    const admin = new Kafka({ clientId: 'faults-check', brokers: proxies.brokers, logLevel: logLevel.NOTHING }).admin();
    await admin.connect();
    try {
      const advertised = (await admin.describeCluster()).brokers.map((b) => `${b.host}:${b.port}`).sort();
      assert.deepEqual(advertised, [...proxies.brokers].sort());
    } finally {
      await admin.disconnect();
    }
  });

  async function run(t: TestContext, fault: 'drop' | 'black-hole', holdMs: number): Promise<void> {
    await resetItems(db);
    const topic = `faults-${fault}-${randomBytes(4).toString('hex')}`;
    const sink = {
      name: 'log',
      type: 'kafka',
      brokers: proxies.brokers,
      topic,
      timeout_ms: 1500,
      max_in_flight: 4,
      max_batch: 100,
      retry: FAST_RETRY,
    };
    const bridge = await startBridge(t, db, 'outbox', [sink]);
    const arrivals = async (): Promise<Arrival[]> => (await readTopic(brokers, topic)).map((m) => arrivalOf(m.value ?? ''));
    const { sent } = await streamThroughFault({
      db,
      arrivals,
      inject: () => proxies.setMode(fault),
      holdMs,
      recover: () => proxies.setMode('pass'),
    });
    await untilAllArrived(sent, arrivals);
    tallyNoLoss(t, `kafka-${fault}`, sent, await arrivals());
    const warnings = bridge.logs().filter((e) => (e.level as number) >= 40);
    assert.ok(warnings.length > 0, 'the bridge noticed the fault (a delivery failure or a kafkajs request timeout)');
    // A JSON parser keeps only the last of two equal keys: kafkajs' lines once had component and sink twice.
    for (const line of bridge.logLines) {
      for (const key of ['"component":', '"sink":']) assert.ok(line.split(key).length <= 2, `${key} twice in ${line}`);
    }
  }

  test('outbox: every broker connection dropped for 1.5 s', (t) => run(t, 'drop', 1500));
  test('outbox: brokers black-holed for 4 s (sink timeout 1.5 s)', (t) => run(t, 'black-hole', 4000));
});
