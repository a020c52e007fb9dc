# Switchyard on the official Bun image: one port (8080) for gRPC, gRPC-Web, Connect, REST and
# the legacy routes; state in the /data volume.
FROM oven/bun:1.4.5 AS deps
WORKDIR /app
COPY package.json bun.lock bunfig.toml ./
RUN bun install --frozen-lockfile --production

# The server as one file compiled to bytecode (dist/main.js, main.js.jsc): a start neither
# resolves ~570 modules nor parses them (test/e2e/bundle.test.ts runs it; bench/startup.ts
# measures both). The bytecode is for this image's Bun only, which is what runs it.
FROM deps AS build
COPY gen ./gen
COPY src ./src
COPY scripts/build-server.sh ./scripts/
RUN bun run build

FROM oven/bun:1.4.5
WORKDIR /app
ENV NODE_ENV=production \
    SWITCHYARD_PORT=8080 \
    SWITCHYARD_DATA_DIR=/data
COPY --from=deps /app/node_modules ./node_modules
COPY package.json bun.lock bunfig.toml ./
COPY gen ./gen
# src/ stays for what is read at runtime: each domain's migrations and the worker threads
# (checkpoints, WAL syncs).
COPY src ./src
COPY --from=build /app/dist ./dist
RUN mkdir -p /data && chown -R bun:bun /data
USER bun
VOLUME ["/data"]
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
  CMD ["bun", "-e", "fetch('http://127.0.0.1:' + (process.env.SWITCHYARD_PORT || 8080) + '/readyz').then(r => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# bun is PID 1 and handles SIGTERM itself: NOT_SERVING, stop accepting, drain, close the database.
STOPSIGNAL SIGTERM
CMD ["bun", "dist/main.js"]
