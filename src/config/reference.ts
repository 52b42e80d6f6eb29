import { sinkFormats, sinkTypes } from '../sinks/registry.js';
import type { AnySinkDescriptor } from '../sinks/descriptor.js';
import { COMMON_FORMATS, refusesUnset } from './formats.js';
import { captureSchema, channelSchema, rootSchema, routeSchema } from './schema.js';
import { commonSinkSchema, type TunableKey } from './sink-schema.js';

interface Leaf {
  doc?: string;
  default?: unknown;
  format?: unknown;
}

const TUNABLE_KEYS: readonly TunableKey[] = ['batch.max_events', 'batch.max_wait_ms', 'max_in_flight'];
const PER_TYPE = '*per type*';

const isLeaf = (node: unknown): node is Leaf => node !== null && typeof node === 'object' && 'default' in node;

/** Every leaf of a schema with its dotted path. */
function leaves(schema: object, prefix = ''): [string, Leaf][] {
  return Object.entries(schema).flatMap(([key, node]): [string, Leaf][] => {
    const path = prefix ? `${prefix}.${key}` : key;
    return isLeaf(node) ? [[path, node]] : leaves(node as object, path);
  });
}

function row(path: string, node: Leaf, shownDefault?: string): string {
  const format = Array.isArray(node.format) ? node.format.join(' \\| ') : typeof node.format === 'string' ? node.format : '';
  const formats = { ...COMMON_FORMATS, ...sinkFormats() };
  const required = node.default === null && typeof node.format === 'string' && refusesUnset(formats[node.format]);
  const fallback = shownDefault ?? (required ? '*required*' : `\`${JSON.stringify(node.default)}\``);
  return `| \`${path}\` | ${fallback} | ${format} | ${(node.doc ?? '').replace(/\|/g, '\\|')} |`;
}

function table(title: string, rows: readonly string[], intro?: string): string {
  return [`#### ${title}`, '', ...(intro ? [intro, ''] : []), '| key | default | values | meaning |', '|---|---|---|---|', ...rows, ''].join('\n');
}

const schemaRows = (schema: object): string[] => leaves(schema).map(([path, node]) => row(path, node));

/** The common keys whose defaults differ by type: the generic table says so, each type's table gives its values. */
function commonRows(): string[] {
  const anyDefaults = { batch: { max_events: 1, max_wait_ms: 0 }, max_in_flight: 1 };
  return leaves(commonSinkSchema(anyDefaults)).map(([path, node]) =>
    row(path, node, (TUNABLE_KEYS as readonly string[]).includes(path) ? PER_TYPE : undefined),
  );
}

function typeRows(descriptor: AnySinkDescriptor): string[] {
  const tunables = leaves(commonSinkSchema(descriptor.defaults, descriptor.docs)).filter(([path]) =>
    (TUNABLE_KEYS as readonly string[]).includes(path),
  );
  return [...tunables.map(([path, node]) => row(path, node)), ...schemaRows(descriptor.schema)];
}

/** The configuration reference in Markdown, generated from the convict schemas (README embeds it; a test keeps them equal). */
export function configReference(): string {
  const parts = [
    table('Top level', schemaRows(rootSchema)),
    table(
      '`capture[]`',
      schemaRows({
        ...captureSchema,
        columns: { doc: 'Columns in data/old: "*", a list, or per op as skor: {insert: "*", update: [id, status], delete: [id]}.', default: '*' },
      }),
    ),
    table('`channels[]`', schemaRows(channelSchema)),
    table('`routes[]`', schemaRows(routeSchema)),
    table('`sinks[]`: every type', commonRows()),
    ...[...sinkTypes.values()].map((d) => table(`\`sinks[]\` with \`type: ${d.type}\``, typeRows(d), d.reference)),
  ];
  return parts.join('\n');
}
