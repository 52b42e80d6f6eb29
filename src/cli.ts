import { parseArgs } from 'node:util';
import { loadConfig, resolveConfigPath } from './config/load.js';
import type { BridgeConfig } from './config/types.js';
import { ConfigError, errorMessage, failureLine } from './errors.js';
import { Scrubber } from './secrets.js';

import { VERSION } from './version.js';

const HELP = `pgbridge ${VERSION} — PostgreSQL changes to webhooks, AMQP, Kafka, NATS JetStream, Redis Streams and MQTT

Usage: pgbridge <command> [-c FILE]

Commands:
  run                      bridge until SIGINT/SIGTERM
  install                  create or upgrade the SQL objects the config needs
  uninstall                drop every object install made (user tables untouched)
  sql                      print the SQL install would run
  check                    validate the config, connect to Postgres and each sink
  status [--json]          each sink's state, backlog, oldest pending age; exit 1 if one is failing
  dead-letters list        show dead letters [--sink S] [--id EVENT_ID] [--limit N]
  dead-letters retry       deliver dead letters again [--sink S] [--id EVENT_ID]
  backfill TABLE           emit every current row as a READ event [--where SQL] [--sink S] [--restart] [--chunk N] [--rate R]
  backfill --status        list backfills: running, interrupted, finished [--json]
  import-skor FILE [URL]   turn skor's triggers.json into a pgbridge config (stdout)
  config-reference         print every config key with its default (Markdown)

Options:
  -c, --config FILE        config file (default: $PGBRIDGE_CONFIG, ./pgbridge.yaml, config/pgbridge.yaml)
  -h, --help               this help
  -v, --version            the version
`;

type Command = (config: BridgeConfig, scrubber: Scrubber, args: CommandArgs) => Promise<number>;

export interface CommandArgs {
  readonly positionals: readonly string[];
  readonly sink?: string;
  readonly id?: string;
  readonly limit?: string;
  readonly where?: string;
  readonly restart?: boolean;
  readonly status?: boolean;
  readonly json?: boolean;
  readonly chunk?: string;
  readonly rate?: string;
}

type CommandOption = Exclude<keyof CommandArgs, 'positionals'>;

/** The options and how many arguments each command takes: anything else is a usage error, not silently ignored. */
const ACCEPTS: Readonly<Record<string, { options: readonly CommandOption[]; most: number }>> = {
  run: { options: [], most: 0 },
  install: { options: [], most: 0 },
  uninstall: { options: [], most: 0 },
  sql: { options: [], most: 0 },
  check: { options: [], most: 0 },
  status: { options: ['json'], most: 0 },
  'dead-letters list': { options: ['sink', 'id', 'limit'], most: 1 },
  'dead-letters retry': { options: ['sink', 'id'], most: 1 },
  backfill: { options: ['where', 'sink', 'restart', 'status', 'json', 'chunk', 'rate'], most: 1 },
};

/** Commands made of a command and one of these as its first argument: each takes its own options. */
const SUBCOMMANDS: Readonly<Record<string, readonly string[]>> = { 'dead-letters': ['list', 'retry'] };

/** Why `args` do not fit command `name`, or undefined. */
function usageProblem(name: string, values: Readonly<Record<string, unknown>>, rest: readonly string[]): string | undefined {
  const subcommands = SUBCOMMANDS[name];
  if (subcommands !== undefined && !subcommands.includes(rest[0] ?? '')) return `${name}: give ${subcommands.join(' or ')}`;
  const full = subcommands === undefined ? name : `${name} ${rest[0]}`;
  const accepts = ACCEPTS[full];
  if (accepts === undefined) return undefined;
  const given = Object.keys(values).filter((key) => !['config', 'help', 'version'].includes(key) && values[key] !== undefined);
  const foreign = given.find((key) => !accepts.options.includes(key as CommandOption));
  if (foreign !== undefined) return `${full} takes no --${foreign}`;
  if (rest.length > accepts.most) return `${full}: unexpected argument ${JSON.stringify(rest[accepts.most])}`;
  return undefined;
}

async function command(name: string): Promise<Command | undefined> {
  switch (name) {
    case 'run':
      return (await import('./commands/run.js')).runCommand;
    case 'install':
      return (await import('./commands/install.js')).installCommand;
    case 'uninstall':
      return (await import('./commands/install.js')).uninstallCommand;
    case 'sql':
      return (await import('./commands/install.js')).sqlCommand;
    case 'check':
      return (await import('./commands/check.js')).checkCommand;
    case 'dead-letters':
      return (await import('./commands/dead-letters.js')).deadLettersCommand;
    case 'backfill':
      return (await import('./commands/backfill.js')).backfillCommand;
    case 'status':
      return (await import('./commands/status.js')).statusCommand;
    default:
      return undefined;
  }
}

export async function main(argv: readonly string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...argv],
      allowPositionals: true,
      options: {
        config: { type: 'string', short: 'c' },
        help: { type: 'boolean', short: 'h' },
        version: { type: 'boolean', short: 'v' },
        sink: { type: 'string' },
        id: { type: 'string' },
        limit: { type: 'string' },
        where: { type: 'string' },
        restart: { type: 'boolean' },
        status: { type: 'boolean' },
        json: { type: 'boolean' },
        chunk: { type: 'string' },
        rate: { type: 'string' },
      },
    });
  } catch (err) {
    process.stderr.write(`pgbridge: ${errorMessage(err)}\n\n${HELP}`);
    return 2;
  }
  const { values, positionals } = parsed;
  if (values.version) {
    process.stdout.write(`${VERSION}\n`);
    return 0;
  }
  const [name, ...rest] = positionals;
  if (values.help || name === undefined || name === 'help') {
    process.stdout.write(HELP);
    return values.help || name === 'help' ? 0 : 2;
  }
  if (name === 'config-reference') {
    const { configReference } = await import('./config/reference.js');
    process.stdout.write(configReference());
    return 0;
  }
  if (name === 'import-skor') {
    const { importSkorCommand } = await import('./commands/import-skor.js');
    return importSkorCommand(rest);
  }
  const run = await command(name);
  if (!run) {
    process.stderr.write(`pgbridge: unknown command ${JSON.stringify(name)}\n\n${HELP}`);
    return 2;
  }
  const usage = usageProblem(name, values, rest);
  if (usage !== undefined) {
    process.stderr.write(`pgbridge: ${usage}\n\n${HELP}`);
    return 2;
  }

  let config: BridgeConfig;
  try {
    config = loadConfig(resolveConfigPath(values.config));
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`pgbridge: config error: ${err.message}\n`);
      return 2;
    }
    throw err;
  }
  const scrubber = new Scrubber(config.secrets);
  try {
    return await run(config, scrubber, {
      positionals: rest,
      sink: values.sink,
      id: values.id,
      limit: values.limit,
      where: values.where,
      restart: values.restart,
      status: values.status,
      json: values.json,
      chunk: values.chunk,
      rate: values.rate,
    });
  } catch (err) {
    process.stderr.write(`pgbridge ${name}: ${scrubber.scrub(failureLine(err))}\n`);
    return 1;
  }
}
