import { sinkModules } from '../sinks/registry.js';
import { captureSchema, channelSchema, commonSinkSchema, rootSchema, routeSchema } from './schema.js';

interface Leaf {
  doc?: string;
  default?: unknown;
  format?: unknown;
}

const isLeaf = (node: unknown): node is Leaf => node !== null && typeof node === 'object' && 'default' in node;

function rows(schema: object, prefix: string): string[] {
  return Object.entries(schema).flatMap(([key, node]) => {
    const path = prefix ? `${prefix}.${key}` : key;
    if (!isLeaf(node)) return rows(node as object, path);
    const format = Array.isArray(node.format) ? node.format.join(' \\| ') : typeof node.format === 'string' ? node.format : '';
    const required = node.default === null && ['required-string', 'channel-name', 'http-url', 'amqp-url', 'non-empty-string-list'].includes(format);
    const fallback = required ? '*required*' : `\`${JSON.stringify(node.default)}\``;
    return [`| \`${path}\` | ${fallback} | ${format} | ${(node.doc ?? '').replace(/\|/g, '\\|')} |`];
  });
}

function table(title: string, schema: object, prefix = ''): string {
  return [`#### ${title}`, '', '| key | default | values | meaning |', '|---|---|---|---|', ...rows(schema, prefix), ''].join('\n');
}

/** The configuration reference in Markdown, generated from the convict schemas (README embeds it; a test keeps them equal). */
export function configReference(): string {
  const parts = [
    table('Top level', rootSchema),
    table('`capture[]`', { ...captureSchema, columns: { doc: 'Columns in data/old: "*", a list, or per op as skor: {insert: "*", update: [id, status], delete: [id]}.', default: '*' } }),
    table('`channels[]`', channelSchema),
    table('`routes[]`', routeSchema),
    table('`sinks[]`: every type', commonSinkSchema),
    ...[...sinkModules.values()].map((m) => table(`\`sinks[]\` with \`type: ${m.type}\``, m.schema as object)),
  ];
  return parts.join('\n');
}
