import { lowerOp, type BridgeEvent } from './event.js';

/** Placeholders a routing key or topic template may use. */
export const TEMPLATE_PLACEHOLDERS = ['schema', 'table', 'op', 'channel'] as const;
const PLACEHOLDER = /\{([^{}]*)\}/g;

const KNOWN = TEMPLATE_PLACEHOLDERS.map((p) => `{${p}}`).join(', ');

/**
 * Returns a message naming the first unknown placeholder or stray brace, or undefined when the template is valid.
 * `literalBraces`: a template whose value may hold braces of its own, kept as written around the placeholders:
 * a Kafka key shaped as JSON (`{"table":"{table}"}`), a Redis stream with a hash tag (`pgbridge:{{table}}` is
 * `pgbridge:{orders}`, every stream of a MULTI in one cluster slot). Both were valid before braces were checked.
 */
export function checkTemplate(template: string, options: { readonly literalBraces?: boolean } = {}): string | undefined {
  for (const match of template.matchAll(PLACEHOLDER)) {
    const name = match[1];
    if (!(TEMPLATE_PLACEHOLDERS as readonly string[]).includes(name)) return `unknown placeholder {${name}}; use ${KNOWN}`;
  }
  if (options.literalBraces === true) return undefined;
  // A brace outside a placeholder is a typo ("{table", "{{op}}"): it would go into every name as written.
  const stray = /[{}]/.exec(template.replace(PLACEHOLDER, ''));
  if (stray !== null)
    return `"${stray[0]}" outside a placeholder in ${JSON.stringify(template)}; placeholders are ${KNOWN}, and braces have no other use`;
  return undefined;
}

const ROW_PLACEHOLDERS = ['{schema}', '{table}', '{op}'];

/** The last rendering: consecutive events mostly share their table and op, and a sink renders its template for each. */
let last: { readonly template: string; readonly event: BridgeEvent; readonly text: string } | undefined;

/**
 * Fills a template for one event. A channel event has no schema, table or op:
 * under a row template (one naming any of them but not {channel}) it gets the
 * channel name instead, so the defaults route it by channel; a fixed template
 * such as "events" applies to it as written. {channel} in a row event's template becomes empty.
 */
export function renderTemplate(template: string, event: BridgeEvent): string {
  if (last !== undefined && last.template === template && sameNames(last.event, event)) return last.text;
  const text = render(template, event);
  last = { template, event, text };
  return text;
}

/** Whether two events fill every placeholder alike. */
function sameNames(a: BridgeEvent, b: BridgeEvent): boolean {
  if (a.kind === 'channel' || b.kind === 'channel') return a.kind === 'channel' && b.kind === 'channel' && a.channel === b.channel;
  return a.op === b.op && a.table === b.table && a.schema === b.schema;
}

function render(template: string, event: BridgeEvent): string {
  if (event.kind === 'channel' && !template.includes('{channel}') && ROW_PLACEHOLDERS.some((p) => template.includes(p))) return event.channel;
  return template.replace(PLACEHOLDER, (_, name: string) => {
    if (event.kind === 'channel') return name === 'channel' ? event.channel : '';
    switch (name) {
      case 'schema':
        return event.schema;
      case 'table':
        return event.table;
      case 'op':
        return lowerOp(event.op);
      default:
        return '';
    }
  });
}
