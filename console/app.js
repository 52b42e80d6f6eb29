// The pgbridge console: polls /api/status and draws it; with http.token it
// also lists dead letters and retries or discards them. Plain browser
// JavaScript, served as is (no build step); charts by uPlot.
'use strict';

const STATUS_EVERY_MS = 2000;
const DEAD_LETTERS_EVERY_MS = 5000;
const $ = (id) => document.getElementById(id);
const charts = new Map(); // sink name -> { card, rate, latency }
let actions; // unknown until the first status: then the dead-letter panel or the note on http.token
let shownDeadLetter;

function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (key === 'class') node.className = value;
    else if (key.startsWith('data-')) node.setAttribute(key, value);
    else node[key] = value;
  }
  for (const child of children) node.append(child);
  return node;
}

function seconds(value) {
  if (value === null || value === undefined) return '–';
  if (value < 1) return `${Math.round(value * 1000)} ms`;
  if (value < 120) return `${value.toFixed(1)} s`;
  if (value < 7200) return `${Math.round(value / 60)} min`;
  return `${(value / 3600).toFixed(1)} h`;
}

const count = (value) => (value === null || value === undefined ? '–' : value.toLocaleString('en'));

async function getJson(url, options = {}) {
  const response = await fetch(url, { credentials: 'same-origin', ...options });
  if (response.status === 401) {
    location.reload(); // the session ended: the server shows the sign-in page
    throw new Error('signed out');
  }
  const body = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error(body.error || `HTTP ${response.status}`);
  return body;
}

function chartOptions(title, series, width) {
  return {
    title,
    width,
    height: 130,
    legend: { show: true },
    cursor: { drag: { x: false, y: false } },
    scales: { x: { time: true }, y: { range: (_u, min, max) => [0, Math.max(1, max * 1.1)] } },
    axes: [{}, { size: 50 }],
    series: [{}, ...series],
  };
}

function sinkCard(sink) {
  const facts = el('dl', { class: 'facts' });
  const error = el('p', { class: 'error', hidden: true });
  const rateBox = el('div', { class: 'chart' });
  const latencyBox = el('div', { class: 'chart' });
  const card = el(
    'article',
    { class: 'sink', 'data-sink': sink.name },
    el('h3', {}, el('span', { class: 'name' }, sink.name), el('span', { class: 'type' }, sink.type), el('span', { class: 'state' })),
    facts,
    error,
    rateBox,
    latencyBox,
  );
  $('sinks').append(card);
  const width = Math.max(300, card.clientWidth - 32);
  const rate = new uPlot(
    chartOptions('events/s delivered', [{ label: 'events/s', stroke: '#2f5fd0', fill: '#2f5fd022', width: 2, points: { show: false } }], width),
    [[], []],
    rateBox,
  );
  const latency = new uPlot(
    chartOptions(
      'delivery latency (ms)',
      [
        { label: 'send', stroke: '#1e7d32', width: 2, points: { show: false } },
        { label: 'end-to-end', stroke: '#b26a00', width: 2, points: { show: false } },
      ],
      width,
    ),
    [[], [], []],
    latencyBox,
  );
  return { card, facts, error, rate, latency };
}

function renderSink(sink) {
  let chart = charts.get(sink.name);
  if (!chart) {
    chart = sinkCard(sink);
    charts.set(sink.name, chart);
  }
  const state = chart.card.querySelector('.state');
  state.textContent = sink.state;
  state.className = `state ${sink.state}`;
  const items = [
    ['backlog', count(sink.backlog)],
    ['oldest pending', seconds(sink.oldest_pending_seconds)],
    ['delivered', count(sink.delivered)],
    ['retries', count(sink.retries)],
    ['dead letters', count(sink.dead_letters)],
  ];
  chart.facts.replaceChildren(...items.map(([name, value]) => el('div', { 'data-fact': name }, el('dt', {}, name), el('dd', {}, value))));
  const failing = sink.state === 'retrying' || sink.state === 'down';
  chart.error.hidden = !(failing && sink.last_error);
  chart.error.textContent = sink.last_error ? `last error: ${sink.last_error}` : '';
  const history = sink.history || [];
  const xs = history.map((p) => p[0] / 1000);
  chart.rate.setData([xs, history.map((p) => p[1])]);
  chart.latency.setData([xs, history.map((p) => p[2]), history.map((p) => p[3])]);
  const last = history[history.length - 1];
  chart.card.dataset.eventsPerSecond = last ? String(last[1]) : '0';
}

function renderTables(tables) {
  $('tables').tBodies[0].replaceChildren(
    ...tables.map((t) =>
      el(
        'tr',
        {},
        el('td', {}, t.table),
        el('td', {}, t.mode),
        el('td', {}, t.ops.join(', ')),
        el('td', {}, t.inPlace.join(', ') || '–'),
        el('td', { class: t.missing.length ? 'missing' : '' }, t.missing.length ? `${t.missing.join(', ')} (run pgbridge install)` : '–'),
      ),
    ),
  );
}

function renderSummary(status) {
  const parts = [
    `instance ${status.instance}`,
    `${status.delivery} mode`,
    status.role === 'delivering' ? 'delivering' : `this instance: ${status.role}`,
  ];
  if (status.outbox_backlog !== null) parts.push(`outbox backlog ${count(status.outbox_backlog)}`);
  if (status.replication_lag_bytes !== null) parts.push(`slot lag ${count(status.replication_lag_bytes)} bytes`);
  $('summary').textContent = parts.join(' · ');
  $('problem').hidden = status.postgres === 'ok';
  $('problem').textContent = status.postgres === 'ok' ? '' : `Postgres: ${status.postgres}`;
}

async function refreshStatus() {
  try {
    const status = await getJson('/api/status');
    renderSummary(status);
    status.sinks.forEach(renderSink);
    renderTables(status.tables);
    if (status.actions !== actions) setActions(status.actions, status.sinks);
  } catch (err) {
    $('problem').hidden = false;
    $('problem').textContent = `The bridge does not answer: ${err.message}`;
  }
}

function setActions(enabled, sinks) {
  actions = enabled;
  $('no-token').hidden = enabled;
  $('dl-panel').hidden = !enabled;
  $('logout').hidden = !enabled;
  if (!enabled) return;
  const select = $('dl-sink');
  for (const sink of sinks) select.append(el('option', { value: sink.name }, sink.name));
  void refreshDeadLetters();
}

function selectedIds() {
  return [...document.querySelectorAll('#dl-table tbody input[type=checkbox]:checked')].map((box) => box.value);
}

function updateButtons() {
  const none = selectedIds().length === 0;
  $('dl-retry').disabled = none;
  $('dl-discard').disabled = none;
}

async function refreshDeadLetters() {
  if (!actions) return;
  const params = new URLSearchParams();
  if ($('dl-sink').value) params.set('sink', $('dl-sink').value);
  if ($('dl-text').value) params.set('q', $('dl-text').value);
  let list;
  try {
    list = (await getJson(`/api/dead-letters?${params}`)).dead_letters;
  } catch (err) {
    showResult(`listing failed: ${err.message}`, true);
    return;
  }
  const checked = new Set(selectedIds());
  $('dl-table').tBodies[0].replaceChildren(
    ...list.map((d) => {
      const box = el('input', { type: 'checkbox', value: d.dead_letter_id, checked: checked.has(d.dead_letter_id) });
      box.setAttribute('aria-label', `select dead letter ${d.dead_letter_id}`);
      box.addEventListener('click', (e) => e.stopPropagation());
      box.addEventListener('change', updateButtons);
      const row = el(
        'tr',
        { class: `dl${d.dead_letter_id === shownDeadLetter ? ' shown' : ''}`, 'data-id': d.dead_letter_id },
        el('td', {}, box),
        el('td', {}, d.dead_letter_id),
        el('td', {}, d.sink),
        el('td', {}, d.error),
        el('td', {}, String(d.attempts)),
        el('td', {}, new Date(d.failed_at).toLocaleString()),
      );
      row.addEventListener('click', () => showEvent(d.dead_letter_id));
      return row;
    }),
  );
  $('dl-empty').hidden = list.length > 0;
  $('dl-all').checked = list.length > 0 && list.every((d) => checked.has(d.dead_letter_id));
  updateButtons();
}

async function showEvent(id) {
  shownDeadLetter = id;
  for (const row of document.querySelectorAll('#dl-table tbody tr')) row.classList.toggle('shown', row.dataset.id === id);
  try {
    const response = await fetch(`/api/dead-letters/${id}/event`, { credentials: 'same-origin' });
    if (!response.ok) throw new Error((await response.json().catch(() => ({}))).error || `HTTP ${response.status}`);
    $('dl-event-id').textContent = id;
    // As stored: parsing and printing it again would round big numbers (bigint, numeric).
    $('dl-event-json').textContent = await response.text();
    $('dl-event').hidden = false;
  } catch (err) {
    showResult(`dead letter ${id}: ${err.message}`, true);
  }
}

function showResult(text, failed = false) {
  $('dl-result').textContent = text;
  $('dl-result').classList.toggle('failed', failed);
}

async function act(action) {
  const ids = selectedIds();
  if (ids.length === 0) return;
  if (action === 'discard' && !confirm(`Discard ${ids.length} dead letter(s) for good?`)) return;
  try {
    const result = await getJson(`/api/dead-letters/${action}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ ids }),
    });
    if (action === 'retry') {
      const kept = result.kept.map((k) => `${k.count} of sink ${k.sink} kept (no such sink configured)`);
      showResult([`${result.retried} dead letter(s) queued for delivery again`, ...kept].join('; '));
    } else {
      showResult(`${result.discarded} dead letter(s) discarded`);
    }
    if (ids.includes(shownDeadLetter)) $('dl-event').hidden = true;
  } catch (err) {
    showResult(`${action} failed: ${err.message}`, true);
  }
  await refreshDeadLetters();
}

function start() {
  $('dl-retry').addEventListener('click', () => act('retry'));
  $('dl-discard').addEventListener('click', () => act('discard'));
  $('dl-sink').addEventListener('change', refreshDeadLetters);
  let typing;
  $('dl-text').addEventListener('input', () => {
    clearTimeout(typing);
    typing = setTimeout(refreshDeadLetters, 300);
  });
  $('dl-all').addEventListener('change', () => {
    for (const box of document.querySelectorAll('#dl-table tbody input[type=checkbox]')) box.checked = $('dl-all').checked;
    updateButtons();
  });
  void refreshStatus();
  setInterval(refreshStatus, STATUS_EVERY_MS);
  setInterval(refreshDeadLetters, DEAD_LETTERS_EVERY_MS);
}

start();
