import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { checkTemplate, renderTemplate, TEMPLATE_PLACEHOLDERS } from '../../src/template.js';
import { channelEvent, rowEvent } from '../support/events.js';
import { loadSinkConfig } from '../support/sink-config.js';

describe('templates', () => {
  test("the placeholders are the contract's four", () => {
    assert.deepEqual([...TEMPLATE_PLACEHOLDERS].sort(), ['channel', 'op', 'schema', 'table']);
  });

  test('checkTemplate accepts the known placeholders and plain text', () => {
    for (const ok of ['{schema}.{table}.{op}', '{schema}.{table}', 'fixed', '', 'cdc-{table}-{op}', '{channel}']) {
      assert.equal(checkTemplate(ok), undefined, ok);
    }
  });

  test('checkTemplate names the first unknown placeholder and lists the known ones', () => {
    assert.equal(checkTemplate('{schema}.{tabel}.{foo}'), 'unknown placeholder {tabel}; use {schema}, {table}, {op}, {channel}');
    assert.match(checkTemplate('{}') ?? '', /unknown placeholder \{\}/);
    assert.match(checkTemplate('{Table}') ?? '', /\{Table\}/, 'case matters');
  });

  test('checkTemplate refuses a brace outside a placeholder', () => {
    for (const typo of ['{table', 'table}', 'cdc.{schema}.{table', '{{op}}', 'a}b{c', '{schema}}']) {
      assert.match(checkTemplate(typo) ?? '', /outside a placeholder/, typo);
    }
    assert.equal(
      checkTemplate('{table'),
      '"{" outside a placeholder in "{table"; placeholders are {schema}, {table}, {op}, {channel}, and braces have no other use',
    );
  });

  test('checkTemplate with literalBraces (a Kafka key, a Redis stream): braces around placeholders kept, unknown placeholders still refused', () => {
    const event = rowEvent({ table: 'orders' });
    for (const [template, rendered] of [
      ['{"table":"{table}"}', '{"table":"orders"}'],
      ['pgbridge:{{table}}', 'pgbridge:{orders}'],
    ]) {
      assert.equal(checkTemplate(template, { literalBraces: true }), undefined, template);
      assert.equal(renderTemplate(template, event), rendered);
    }
    assert.match(checkTemplate('pgbridge:{{tabel}}', { literalBraces: true }) ?? '', /unknown placeholder \{tabel\}/);
  });

  test('a Kafka key shaped as JSON loads (it did before braces were checked); a brace in its topic is still refused', () => {
    const kafka = (raw: Record<string, unknown>) => loadSinkConfig({ name: 'k', type: 'kafka', brokers: ['k:9092'], ...raw });
    assert.equal(kafka({ key: '{"table":"{table}"}' }).key, '{"table":"{table}"}');
    assert.throws(() => kafka({ topic: 'cdc.{{table}}' }), /sinks\[0\]\.topic: "\{" outside a placeholder/);
  });

  test('row events: schema, table and op in lower case', () => {
    const event = rowEvent({ schema: 'Sales', table: 'Order Items', op: 'UPDATE' });
    assert.equal(renderTemplate('{schema}.{table}.{op}', event), 'Sales.Order Items.update');
    assert.equal(renderTemplate('{op}', rowEvent({ op: 'INSERT' })), 'insert');
    assert.equal(renderTemplate('{op}', rowEvent({ op: 'DELETE' })), 'delete');
    assert.equal(renderTemplate('fixed', event), 'fixed');
    assert.equal(renderTemplate('{table}-{table}', event), 'Order Items-Order Items');
  });

  test('{channel} in a row template is empty', () => {
    assert.equal(renderTemplate('x.{channel}.{table}', rowEvent({ table: 'orders' })), 'x..orders');
  });

  test('channel events: {channel}; under a row template without {channel}, the channel name', () => {
    const event = channelEvent({ channel: 'jobs' });
    assert.equal(renderTemplate('ch.{channel}', event), 'ch.jobs');
    assert.equal(renderTemplate('{schema}.{table}.{op}', event), 'jobs');
    assert.equal(renderTemplate('{schema}.{table}', event), 'jobs');
    assert.equal(renderTemplate('cdc-{op}', event), 'jobs');
    assert.equal(renderTemplate('{channel}.{table}', event), 'jobs.');
  });

  test('channel events under a fixed template (no placeholder) get it as written', () => {
    assert.equal(renderTemplate('events', channelEvent({ channel: 'jobs' })), 'events');
    assert.equal(renderTemplate('', channelEvent({ channel: 'jobs' })), '');
  });

  test('a value holding braces is not expanded again', () => {
    assert.equal(renderTemplate('{table}', rowEvent({ table: '{schema}' })), '{schema}');
  });

  test('{op} of a TRUNCATE and of a backfill READ', () => {
    assert.equal(renderTemplate('{schema}.{table}.{op}', rowEvent({ op: 'TRUNCATE', data: 'null' })), 'public.orders.truncate');
    assert.equal(renderTemplate('pgbridge/{table}/{op}', rowEvent({ op: 'READ' })), 'pgbridge/orders/read');
  });
});
