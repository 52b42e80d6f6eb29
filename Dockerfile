# pgbridge container image.
#
#   docker build -t pgbridge:0.1.0 .
#   docker run --rm -v "$PWD/pgbridge.yaml:/etc/pgbridge/pgbridge.yaml:ro" -p 9187:9187 pgbridge:0.1.0
#   docker run --rm -v "$PWD/pgbridge.yaml:/etc/pgbridge/pgbridge.yaml:ro" pgbridge:0.1.0 install
#
# Both stages use the same pinned image so the node_modules built in the first
# one run unchanged in the second (same Node ABI, same libc).

ARG NODE_IMAGE=node:20.19.5-bookworm-slim

# ---------------------------------------------------------------- build stage
FROM ${NODE_IMAGE} AS build
WORKDIR /src

# Dependencies first: this layer is reused until the lockfile changes.
# --ignore-scripts: `npm ci` would otherwise run the package's own `prepare`
# (tsc and the bundle) before the sources are copied in; no runtime dependency
# needs an install script (only esbuild, which the build uses, has one, and its
# binary comes from its platform package without it).
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts --no-audit --no-fund

COPY tsconfig.json ./
COPY src ./src
COPY scripts/bundle.mjs ./scripts/
RUN npm run build \
 && npm prune --omit=dev --ignore-scripts --no-audit --no-fund

# -------------------------------------------------------------- runtime stage
FROM ${NODE_IMAGE} AS runtime

ENV NODE_ENV=production \
    PGBRIDGE_CONFIG=/etc/pgbridge/pgbridge.yaml

WORKDIR /app

# Owned by root and read-only to the process: nothing in /app is written at run time,
# which also lets Kubernetes mount the root filesystem read-only.
COPY --from=build /src/node_modules ./node_modules
COPY --from=build /src/dist ./dist
COPY package.json ./
COPY bin ./bin
COPY sql ./sql
COPY config ./config
COPY console ./console

# The `node` user of the base image, by number so that Kubernetes'
# runAsNonRoot can verify it without a passwd lookup.
USER 1000:1000

# /metrics, /livez, /readyz (config key http.port).
EXPOSE 9187

# Liveness only: /readyz also depends on Postgres and every sink, and an
# orchestrator restarting the bridge because a broker is down would not help.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:9187/livez').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]

ENTRYPOINT ["node", "/app/bin/pgbridge.js"]
CMD ["run"]
