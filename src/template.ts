import { lowerOp, type BridgeEvent } from './event.js';

/** Placeholders a routing key or topic template may use. */
export const TEMPLATE_PLACEHOLDERS = ['schema', 'table', 'op', 'channel'] as const;
const PLACEHOLDER = /\{([^{}]*)\}/g;

/** Returns a message naming the first unknown placeholder, or undefined when the template is valid. */
export function checkTemplate(template: string): string | undefined {
  for (const match of template.matchAll(PLACEHOLDER)) {
    const name = match[1];
    if (!(TEMPLATE_PLACEHOLDERS as readonly string[]).includes(name)) {
      return `unknown placeholder {${name}}; use ${TEMPLATE_PLACEHOLDERS.map((p) => `{${p}}`).join(', ')}`;
    }
  }
  return undefined;
}

const ROW_PLACEHOLDERS = ['{schema}', '{table}', '{op}'];

/**
 * Fills a template for one event. A channel event has no schema, table or op:
 * under a row template (one naming any of them but not {channel}) it gets the
 * channel name instead, so the defaults route it by channel; a fixed template
 * such as "events" applies to it as written. {channel} in a row event's template becomes empty.
 */
export function renderTemplate(template: string, event: BridgeEvent): string {
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
