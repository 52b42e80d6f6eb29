/**
 * The deployment files (Dockerfile, docker-compose.yml, config/compose.yaml,
 * deploy/kubernetes.yaml) and the example webhook consumer.
 *
 * There is no Docker engine here: the compose file is checked by Compose
 * itself (`docker-compose config -q`, Debian's package, installed if missing),
 * the rest by reading the files. The consumer is run for real and fed
 * deliveries signed independently with node:crypto.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { createHmac, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import YAML from 'yaml';
import { loadConfig } from '../../src/config/load.js';
import { Scrubber } from '../../src/secrets.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const read = (file: string): string => readFileSync(path.join(root, file), 'utf8');

/** Parsed YAML: its shape is what the assertions check. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = Record<string, any>;

function run(command: string, args: string[], options: { cwd?: string; env?: NodeJS.ProcessEnv } = {}) {
  const result = spawnSync(command, args, { encoding: 'utf8', ...options, timeout: 570_000 });
  return { status: result.status, stdout: result.stdout ?? '', stderr: result.stderr ?? '', error: result.error };
}

function onPath(command: string): boolean {
  return run('sh', ['-c', `command -v ${command}`]).status === 0;
}

/**
 * Debian's docker-compose (Compose v1.29, Python): validates and renders a
 * compose file without a Docker engine. Installed with apt when missing; when
 * that is impossible the test fails rather than skips.
 */
function ensureDockerCompose(): void {
  if (onPath('docker-compose')) return;
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  const candidate = () => /Candidate: (?!\(none\))\S+/.exec(run('apt-cache', ['policy', 'docker-compose']).stdout);
  if (!candidate()) {
    const update = run('apt-get', ['-o', 'DPkg::Lock::Timeout=300', 'update'], { env });
    assert.equal(update.status, 0, `apt-get update failed: ${update.stderr}${update.error ?? ''}`);
  }
  assert.ok(candidate(), 'apt has no docker-compose package (apt-cache policy docker-compose: no candidate)');
  const install = run('apt-get', ['-o', 'DPkg::Lock::Timeout=300', 'install', '-y', '--no-upgrade', '--no-install-recommends', 'docker-compose'], {
    env,
  });
  assert.equal(install.status, 0, `apt-get install docker-compose failed: ${install.stderr}${install.error ?? ''}`);
  assert.ok(onPath('docker-compose'), 'docker-compose is still not on PATH after installing it');
}

/** True when an image reference names a fixed version: a digest, or a tag with a digit that is not "latest". */
function isPinned(image: string): boolean {
  if (/@sha256:[0-9a-f]{64}$/.test(image)) return true;
  const lastSlash = image.lastIndexOf('/');
  const colon = image.lastIndexOf(':');
  if (colon <= lastSlash) return false; // no tag at all means latest
  const tag = image.slice(colon + 1);
  return tag !== 'latest' && /\d/.test(tag);
}

test('isPinned tells pinned image references from floating ones', () => {
  for (const image of ['postgres:15.14', 'apache/kafka:3.9.1', 'localhost:5000/pgbridge:0.1.0', `node@sha256:${'a'.repeat(64)}`]) {
    assert.ok(isPinned(image), image);
  }
  for (const image of ['postgres', 'postgres:latest', 'node:lts-slim', 'localhost:5000/pgbridge', 'rabbitmq:management']) {
    assert.ok(!isPinned(image), image);
  }
});

describe('docker-compose.yml', () => {
  const compose = YAML.parse(read('docker-compose.yml')) as Json;
  const services = compose.services as Record<string, Json>;

  test('is valid for Compose (docker-compose config -q)', { timeout: 600_000 }, () => {
    ensureDockerCompose();
    const env = { ...process.env };
    for (const name of ['COMPOSE_FILE', 'COMPOSE_PROJECT_NAME', 'WEBHOOK_SECRET', 'POSTGRES_PASSWORD']) delete env[name];
    const result = run('docker-compose', ['-f', 'docker-compose.yml', 'config', '-q'], { cwd: root, env });
    assert.equal(result.status, 0, `docker-compose config -q failed:\n${result.stderr}${result.error ?? ''}`);
    // Unset variables are only warned about; every one used must have a default here.
    assert.doesNotMatch(result.stderr, /variable is not set/i, result.stderr);
  });

  test('has every service, each with a healthcheck', () => {
    assert.deepEqual(Object.keys(services).sort(), ['kafka', 'mqtt', 'nats', 'pgbridge', 'postgres', 'rabbitmq', 'redis', 'webhook']);
    for (const [name, service] of Object.entries(services)) {
      assert.ok(Array.isArray(service.healthcheck?.test), `${name} has no healthcheck`);
    }
  });

  test('pins every image tag (no latest), pgbridge is built from this checkout', () => {
    for (const [name, service] of Object.entries(services)) {
      if (name === 'pgbridge') {
        assert.equal(service.build, '.');
        continue;
      }
      assert.equal(typeof service.image, 'string', `${name} has no image`);
      assert.ok(isPinned(service.image), `${name}: image ${service.image} is not pinned`);
    }
    assert.match(services.postgres.image, /^postgres:15\.\d+/);
    assert.match(services.rabbitmq.image, /^rabbitmq:3\.\d+\.\d+-management/);
    assert.match(services.kafka.image, /^apache\/kafka:3\.\d+\.\d+$/);
    assert.match(services.webhook.image, /^node:20\.\d+\.\d+/);
    assert.match(services.nats.image, /^nats:2\.\d+\.\d+/);
    assert.ok(services.nats.command.includes('-js'), 'nats runs with JetStream');
    assert.match(services.mqtt.image, /^eclipse-mosquitto:2\.\d+\.\d+$/);
    assert.match(services.redis.image, /^redis:7\.\d+\.\d+/);
    assert.doesNotMatch(read('docker-compose.yml'), /:latest\b/);
  });

  test('pgbridge waits for healthy services, installs, then runs with the mounted config', () => {
    const bridge = services.pgbridge;
    assert.deepEqual(Object.keys(bridge.depends_on).sort(), ['kafka', 'mqtt', 'nats', 'postgres', 'rabbitmq', 'redis', 'webhook']);
    for (const [dep, condition] of Object.entries(bridge.depends_on as Record<string, Json>)) {
      assert.equal(condition.condition, 'service_healthy', `depends_on ${dep}`);
    }
    const entrypoint = (bridge.entrypoint as string[]).join(' ');
    assert.match(entrypoint, /pgbridge\.js install && exec node \/app\/bin\/pgbridge\.js run/);
    assert.ok(bridge.volumes.includes('./config/compose.yaml:/etc/pgbridge/pgbridge.yaml:ro'));
    assert.equal(bridge.environment.PGBRIDGE_CONFIG, '/etc/pgbridge/pgbridge.yaml');
    // The signing secret comes from the environment, the same for both ends.
    assert.match(bridge.environment.WEBHOOK_SECRET, /^\$\{WEBHOOK_SECRET:-whsec_[A-Za-z0-9+/=]+\}$/);
    assert.equal(services.webhook.environment.WEBHOOK_SECRET, bridge.environment.WEBHOOK_SECRET);
  });

  test('postgres loads the example schema; kafka is a KRaft node advertised as kafka:9092', () => {
    assert.ok(services.postgres.volumes.some((v: string) => v.startsWith('./examples/compose/init.sql:/docker-entrypoint-initdb.d/')));
    assert.match(read('examples/compose/init.sql'), /CREATE TABLE IF NOT EXISTS public\.orders/);
    const kafka = services.kafka.environment as Json;
    assert.equal(kafka.KAFKA_PROCESS_ROLES, 'broker,controller');
    assert.match(kafka.KAFKA_ADVERTISED_LISTENERS, /(^|,)PLAINTEXT:\/\/kafka:9092(,|$)/);
    assert.match(kafka.CLUSTER_ID, /^[A-Za-z0-9_-]{22}$/, 'CLUSTER_ID must be a base64url UUID (22 characters)');
  });
});

describe('config/compose.yaml', () => {
  const config = YAML.parse(read('config/compose.yaml')) as Json;

  test('has the sinks the compose services provide, secrets from the environment', () => {
    const sinks = Object.fromEntries((config.sinks as Json[]).map((s) => [s.type, s]));
    assert.equal(sinks.webhook.url, 'http://webhook:8080/');
    assert.equal(sinks.webhook.secret, '${WEBHOOK_SECRET}');
    assert.equal(sinks.amqp.url, 'amqp://guest:guest@rabbitmq:5672');
    assert.equal(sinks.amqp.exchange, 'pgbridge');
    assert.deepEqual(sinks.kafka.brokers, ['kafka:9092']);
    assert.equal(sinks.kafka.topic, '{schema}.{table}');
    assert.equal(sinks.mqtt.url, 'mqtt://mqtt:1883');
    assert.equal(sinks.redis.url, 'redis://redis:6379');
    assert.match(config.postgres.url, /@postgres:5432\/shop$/);
    assert.equal(config.http.port, 9187);
  });

  test('routes orders inserts to every sink and the jobs channel to the webhook only', () => {
    const names = new Set((config.sinks as Json[]).map((s) => s.name as string));
    const routes = config.routes as Json[];
    for (const route of routes) for (const to of route.to as string[]) assert.ok(names.has(to), `route to unknown sink ${to}`);
    const inserts = routes.find((r) => r.from.table === 'public.orders' && r.from.ops?.includes('insert'));
    assert.deepEqual(new Set(inserts?.to), names);
    const jobs = routes.find((r) => r.from.channel === 'jobs');
    const webhook = (config.sinks as Json[]).find((s) => s.type === 'webhook')?.name;
    assert.deepEqual(jobs?.to, [webhook]);
    assert.deepEqual(config.channels, [{ name: 'jobs' }]);
    assert.equal(config.capture[0].table, 'public.orders');
  });

  test("with docker-compose.yml's default password, the scrubber masks it and leaves every host name readable", () => {
    const services = (YAML.parse(read('docker-compose.yml')) as Json).services as Record<string, Json>;
    const defaultOf = (value: string): string => /^\$\{POSTGRES_PASSWORD:-([^}]+)\}$/.exec(value)?.[1] ?? assert.fail(value);
    const password = defaultOf(services.pgbridge.environment.POSTGRES_PASSWORD);
    assert.equal(defaultOf(services.postgres.environment.POSTGRES_PASSWORD), password);
    assert.ok(read('config/compose.yaml').includes(`:\${POSTGRES_PASSWORD:-${password}}@`), 'config/compose.yaml has the same default');

    const env = { WEBHOOK_SECRET: 'whsec_cGdicmlkZ2UtY29tcG9zZS1kZW1vLXNlY3JldC0zMmI=' };
    const loaded = loadConfig(path.join(root, 'config/compose.yaml'), env);
    const scrubber = new Scrubber(loaded.secrets);
    assert.equal(scrubber.scrub(loaded.postgres.url!), 'postgres://postgres:***@postgres:5432/shop');
    const hosts = [loaded.postgres.url!, ...loaded.sinks.flatMap((s) => ('url' in s ? [s.url] : []))].map((url) => new URL(String(url)).hostname);
    hosts.push(...loaded.sinks.flatMap((s) => ('brokers' in s ? (s.brokers as string[]) : [])).map((broker) => broker.split(':')[0]));
    assert.deepEqual(new Set(hosts), new Set(['postgres', 'webhook', 'rabbitmq', 'kafka', 'nats', 'mqtt', 'redis']));
    for (const host of hosts) assert.equal(scrubber.scrub(`getaddrinfo ENOTFOUND ${host}`), `getaddrinfo ENOTFOUND ${host}`);
  });
});

describe('Dockerfile', () => {
  const dockerfile = read('Dockerfile');
  const instructions = dockerfile
    .replace(/\\\n/g, ' ')
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'));
  const args = new Map<string, string>();
  for (const line of instructions) {
    const m = /^ARG\s+(\w+)=(\S+)/.exec(line);
    if (m) args.set(m[1], m[2]);
  }
  const from = instructions
    .filter((line) => line.startsWith('FROM '))
    .map((line) => line.split(/\s+/)[1].replace(/\$\{(\w+)\}/g, (_, name: string) => args.get(name) ?? ''));

  test('builds in one pinned node:20 stage and runs in another', () => {
    assert.equal(from.length, 2);
    for (const image of from) {
      assert.ok(isPinned(image), `FROM ${image} is not pinned`);
      assert.match(image, /^node:20\.\d+\.\d+-\w+-slim$/);
    }
    assert.ok(instructions.some((l) => /^RUN npm ci\b/.test(l)));
    assert.ok(instructions.some((l) => /npm run build/.test(l) && /npm prune --omit=dev/.test(l)));
  });

  test('runs as a non-root user, with the contract entrypoint, port and health check', () => {
    const user = instructions.filter((l) => l.startsWith('USER ')).at(-1);
    assert.ok(user && !/^USER\s+(root|0)(:|$)/.test(user), `runs as ${user}`);
    assert.ok(instructions.includes('ENTRYPOINT ["node", "/app/bin/pgbridge.js"]'));
    assert.ok(instructions.includes('CMD ["run"]'));
    assert.ok(instructions.includes('EXPOSE 9187'));
    assert.ok(instructions.some((l) => /PGBRIDGE_CONFIG=\/etc\/pgbridge\/pgbridge\.yaml/.test(l)));
    assert.ok(instructions.some((l) => l.startsWith('HEALTHCHECK ') && l.includes('/livez')));
    for (const dir of ['dist', 'bin', 'sql', 'config', 'node_modules', 'package.json']) {
      assert.ok(
        instructions.some((l) => l.startsWith('COPY ') && l.includes(dir)),
        `does not copy ${dir}`,
      );
    }
  });
});

describe('deploy/kubernetes.yaml', () => {
  const docs = YAML.parseAllDocuments(read('deploy/kubernetes.yaml'));
  const objects = docs.map((doc) => {
    assert.deepEqual(doc.errors, []);
    return doc.toJS() as Json;
  });
  const byKind = (kind: string) => {
    const found = objects.filter((o) => o.kind === kind);
    assert.equal(found.length, 1, `expected one ${kind}`);
    return found[0];
  };

  test('parses into a Secret, a ConfigMap, a Deployment, a PodDisruptionBudget and a Service', () => {
    assert.deepEqual(objects.map((o) => o.kind).sort(), ['ConfigMap', 'Deployment', 'PodDisruptionBudget', 'Secret', 'Service']);
  });

  test('the Deployment runs 2 replicas with /livez and /readyz probes on 9187', () => {
    const deployment = byKind('Deployment');
    assert.equal(deployment.spec.replicas, 2);
    const pod = deployment.spec.template.spec;
    const [container] = pod.containers as Json[];
    const portOf = (port: number | string) =>
      typeof port === 'number' ? port : (container.ports as Json[]).find((p) => p.name === port)?.containerPort;
    assert.equal(container.livenessProbe.httpGet.path, '/livez');
    assert.equal(portOf(container.livenessProbe.httpGet.port), 9187);
    assert.equal(container.readinessProbe.httpGet.path, '/readyz');
    assert.equal(portOf(container.readinessProbe.httpGet.port), 9187);
    assert.deepEqual(container.args, ['run']);
    assert.ok(container.resources.requests && container.resources.limits);
  });

  test('runs non-root on a read-only root filesystem, after `pgbridge install`', () => {
    const pod = byKind('Deployment').spec.template.spec;
    assert.equal(pod.securityContext.runAsNonRoot, true);
    assert.notEqual(pod.securityContext.runAsUser, 0);
    const [install] = pod.initContainers as Json[];
    assert.deepEqual(install.args, ['install']);
    for (const container of [...pod.initContainers, ...pod.containers] as Json[]) {
      assert.equal(container.securityContext.readOnlyRootFilesystem, true, container.name);
      assert.equal(container.securityContext.allowPrivilegeEscalation, false, container.name);
      assert.ok(isPinned(container.image), `${container.name}: image ${container.image} is not pinned`);
    }
  });

  test('secrets reach the config through the environment', () => {
    const secret = byKind('Secret');
    const pod = byKind('Deployment').spec.template.spec;
    const [container] = pod.containers as Json[];
    for (const env of container.env as Json[]) {
      const ref = env.valueFrom?.secretKeyRef;
      if (ref) assert.ok(ref.key in secret.stringData, `secret key ${ref.key} is not in the Secret`);
    }
    const config = YAML.parse(byKind('ConfigMap').data['pgbridge.yaml']) as Json;
    assert.equal(config.postgres.url, '${DATABASE_URL}');
    assert.equal(config.http.port, 9187);
    const configVolume = (pod.volumes as Json[]).find((v) => v.configMap?.name === byKind('ConfigMap').metadata.name);
    const mount = (container.volumeMounts as Json[]).find((m) => m.name === configVolume?.name);
    const configPath = (container.env as Json[]).find((e) => e.name === 'PGBRIDGE_CONFIG')?.value;
    assert.equal(configPath, `${mount?.mountPath}/pgbridge.yaml`);
  });

  test('a Service exposes 9187 for Prometheus', () => {
    const service = byKind('Service');
    assert.equal(service.metadata.annotations['prometheus.io/scrape'], 'true');
    assert.equal(service.metadata.annotations['prometheus.io/port'], '9187');
    assert.equal(service.metadata.annotations['prometheus.io/path'], '/metrics');
    assert.equal(service.spec.ports[0].port, 9187);
    assert.deepEqual(service.spec.selector, byKind('Deployment').spec.selector.matchLabels);
  });
});

// ----------------------------------------------------------- webhook consumer

const SECRET_KEY = randomBytes(32);
const SECRET = `whsec_${SECRET_KEY.toString('base64')}`;

/** Standard Webhooks signing, written here independently of the consumer's code. */
function sign(id: string, timestamp: number, body: string, key: Buffer = SECRET_KEY): string {
  return `v1,${createHmac('sha256', key).update(`${id}.${timestamp}.${body}`).digest('base64')}`;
}
const now = () => Math.floor(Date.now() / 1000);

describe('examples/webhook-consumer/verify.js', () => {
  type Verify = (secret: string, headers: Record<string, string>, body: string | Uint8Array) => boolean;
  let verifyWebhook: Verify;
  before(async () => {
    const url = pathToFileURL(path.join(root, 'examples/webhook-consumer/verify.js')).href;
    ({ verifyWebhook } = (await import(url)) as { verifyWebhook: Verify });
  });
  const body = '{"id":"1","schema":"public","table":"orders","op":"INSERT"}';
  const headers = (id: string, ts: number, signature: string) => ({
    'webhook-id': id,
    'webhook-timestamp': String(ts),
    'webhook-signature': signature,
  });

  test('accepts a correct signature, also among several and as bytes', () => {
    const ts = now();
    assert.equal(verifyWebhook(SECRET, headers('1', ts, sign('1', ts, body)), body), true);
    assert.equal(verifyWebhook(SECRET, headers('1', ts, sign('1', ts, body)), Buffer.from(body)), true);
    const other = sign('1', ts, body, randomBytes(32));
    assert.equal(verifyWebhook(SECRET, headers('1', ts, `v1a,xyz ${other} ${sign('1', ts, body)}`), body), true);
  });

  test('rejects a tampered body, another id, a wrong key, stale or future timestamps, missing headers', () => {
    const ts = now();
    const good = sign('1', ts, body);
    assert.equal(verifyWebhook(SECRET, headers('1', ts, good), body.replace('INSERT', 'DELETE')), false);
    assert.equal(verifyWebhook(SECRET, headers('2', ts, good), body), false);
    assert.equal(verifyWebhook(SECRET, headers('1', ts, sign('1', ts, body, randomBytes(32))), body), false);
    assert.equal(verifyWebhook(SECRET, headers('1', ts - 301, sign('1', ts - 301, body)), body), false);
    assert.equal(verifyWebhook(SECRET, headers('1', ts + 301, sign('1', ts + 301, body)), body), false);
    assert.equal(verifyWebhook(SECRET, headers('1', ts - 240, sign('1', ts - 240, body)), body), true);
    assert.equal(verifyWebhook(SECRET, { 'webhook-id': '1', 'webhook-timestamp': String(ts) }, body), false);
    assert.equal(verifyWebhook(SECRET, headers('1', ts, good.replace('v1,', 'v2,')), body), false);
    assert.equal(verifyWebhook(SECRET, headers('1', ts, 'v1,'), body), false);
  });
});

describe('examples/webhook-consumer/server.js', () => {
  let child: ChildProcessWithoutNullStreams;
  let base: string;
  const lines: string[] = [];
  const waiters: Array<() => void> = [];

  before(async () => {
    child = spawn(process.execPath, [path.join(root, 'examples/webhook-consumer/server.js')], {
      env: { ...process.env, WEBHOOK_SECRET: SECRET, PORT: '0' },
    });
    let pending = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      pending += chunk;
      const parts = pending.split('\n');
      pending = parts.pop() ?? '';
      lines.push(...parts);
      for (const wake of waiters.splice(0)) wake();
    });
    const port = await new Promise<number>((resolve, reject) => {
      let stderr = '';
      const timer = setTimeout(() => reject(new Error(`consumer did not start: ${stderr}`)), 10_000);
      child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
        stderr += chunk;
        const m = /listening on port (\d+)/.exec(stderr);
        if (m) {
          clearTimeout(timer);
          resolve(Number(m[1]));
        }
      });
      child.once('exit', (code) => reject(new Error(`consumer exited with ${code}: ${stderr}`)));
    });
    base = `http://127.0.0.1:${port}`;
  });

  after(async () => {
    if (child.exitCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    await exited;
  });

  async function printed(predicate: (line: string) => boolean, timeoutMs = 5_000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const line = lines.find(predicate);
      if (line !== undefined) return line;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`not printed; stdout so far: ${JSON.stringify(lines)}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  function post(body: string, id: string, ts: number, signature: string): Promise<Response> {
    return fetch(base, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'webhook-id': id, 'webhook-timestamp': String(ts), 'webhook-signature': signature },
      body,
    });
  }

  // Written as text: 9007199254740993 is not a double, and must come out with every digit.
  const event = (id: string) =>
    `{"id":"${id}","schema":"public","table":"orders","op":"INSERT","data":{"id":9007199254740993,"note":"a, [b] {c} \\"d\\""},"old":null}`;

  test('answers its health check', async () => {
    const res = await fetch(`${base}/healthz`);
    assert.equal(res.status, 200);
  });

  test('a correctly signed event: 204, printed on stdout as sent', async () => {
    const id = `evt-${randomBytes(6).toString('hex')}`;
    const body = event(id);
    const ts = now();
    const res = await post(body, id, ts, sign(id, ts, body));
    assert.equal(res.status, 204);
    assert.equal(await printed((l) => l.includes(id)), body);
  });

  test('a signed batch (JSON array): 204, one line per event, as sent', async () => {
    const ids = [`b1-${randomBytes(4).toString('hex')}`, `b2-${randomBytes(4).toString('hex')}`];
    const body = `[${ids.map(event).join(',\n ')}]`;
    const ts = now();
    const res = await post(body, ids[0], ts, sign(ids[0], ts, body));
    assert.equal(res.status, 204);
    for (const id of ids) assert.equal(await printed((l) => l.includes(id)), event(id));
  });

  test('a wrong signature: 401, nothing printed', async () => {
    const id = `bad-${randomBytes(6).toString('hex')}`;
    const body = event(id);
    const ts = now();
    const res = await post(body, id, ts, sign(id, ts, body, randomBytes(32)));
    assert.equal(res.status, 401);
    const tampered = await post(body.replace('INSERT', 'DELETE'), id, ts, sign(id, ts, body));
    assert.equal(tampered.status, 401);
    const unsigned = await fetch(base, { method: 'POST', body });
    assert.equal(unsigned.status, 401);
    await assert.rejects(printed((l) => l.includes(id), 300));
  });

  test('a stale timestamp, correctly signed: 401', async () => {
    const id = `stale-${randomBytes(6).toString('hex')}`;
    const body = event(id);
    const ts = now() - 6 * 60;
    const res = await post(body, id, ts, sign(id, ts, body));
    assert.equal(res.status, 401);
    await assert.rejects(printed((l) => l.includes(id), 300));
  });
});
