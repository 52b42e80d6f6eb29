/**
 * pgbridge's layering, checked by `npm run lint:deps` (run by .ci/run).
 *
 *   config/  → what the user wrote, checked; loads no runtime module
 *   schema/  → the outbox table as installer and runtime both see it
 *   install/ → `pgbridge install`; nothing at runtime imports it
 *   source/  → capture (outbox, notify, wal); hands events to delivery through
 *              delivery/inlet.ts and learns outcomes through delivery/envelope.ts
 *   delivery/→ one runner per sink; knows nothing of the sources
 *   sinks/   → one folder per sink type; knows nothing of the sources
 *   app.ts   → composes them
 *
 * Lazily loaded modules (`await import(...)`) are left out: loading a sink
 * or a command only when it is used is the point of them.
 */
module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      severity: 'error',
      comment: 'A cycle means two modules that can only be understood, and changed, together.',
      from: {},
      to: { circular: true },
    },
    {
      name: 'source-uses-delivery-interfaces-only',
      severity: 'error',
      comment: 'A source pushes through the Inlet and is acknowledged through the Checkpoint (envelope.ts); the runners behind them are delivery internals.',
      from: { path: '^src/source/' },
      to: { path: '^src/delivery/', pathNot: '^src/delivery/(inlet|envelope|backoff)\\.ts$' },
    },
    {
      name: 'delivery-knows-no-source',
      severity: 'error',
      comment: 'Delivery gets envelopes and settles them; where they came from is the source\'s business.',
      from: { path: '^src/delivery/' },
      to: { path: '^src/source/' },
    },
    {
      name: 'sinks-know-no-source',
      severity: 'error',
      from: { path: '^src/sinks/' },
      to: { path: '^src/source/' },
    },
    {
      name: 'config-loads-no-runtime',
      severity: 'error',
      comment: 'Checking a config must not load sources, delivery, Postgres or a sink implementation, not even through another module.',
      from: { path: '^src/config/' },
      to: {
        reachable: true,
        path: [
          '^src/(source|delivery|install|commands|schema)/',
          '^src/(app|cli|http|metrics|postgres|router|logger)\\.ts$',
          '^src/sinks/(create|configured-sink|scrubbed-sink|until-aborted)\\.ts$',
          '^src/sinks/[^/]+/(sink|producer|connect|message|request)\\.ts$',
        ],
      },
    },
    {
      name: 'runtime-does-not-import-the-installer',
      severity: 'error',
      comment: 'What the runtime shares with the installer lives in schema/.',
      from: { path: ['^src/(source|delivery|sinks|schema|config)/', '^src/(app|http|router|postgres)\\.ts$'] },
      to: { path: '^src/install/' },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { dynamic: true },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { extensions: ['.ts', '.js'] },
  },
};
