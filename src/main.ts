import { createApp, VERSION } from "./app.ts";
import { ConfigError, loadConfig } from "./config.ts";
import { systemClock } from "./core/clock.ts";
import { createLogger } from "./core/logger.ts";
import { openConfiguredDatabase } from "./db/open.ts";
import { configureFailpoints } from "./core/failpoints.ts";

/** Composition root: config → database → app → listen → drain on SIGTERM/SIGINT. */
async function main(): Promise<void> {
  let config;
  try {
    config = loadConfig();
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`${error.message}\n`);
      process.exit(2);
    }
    throw error;
  }
  const log = createLogger(config.logLevel);
  // A stray rejection (a bug) is logged once with its cause; it does not take down the control
  // plane of every worker in the fleet. Exceptions thrown synchronously still end the process.
  process.on("unhandledRejection", (error) => log.error("unhandled rejection (a bug: please report it)", { error }));
  if (!config.apiToken && config.auth.serviceTokens.length === 0 && !config.auth.jwtSecret && !config.auth.jwksUrl && !config.auth.jwksFile) {
    log.warn("no SWITCHYARD_API_TOKEN, service token or JWT key is set: the server is OPEN, every RPC and route answers without authentication");
  }
  configureFailpoints(config.failpoints);
  if (config.failpoints) log.warn("failpoints armed (fault testing only)", { failpoints: config.failpoints });
  const database = await openConfiguredDatabase(config, { maxPendingWrites: config.maxPendingWrites, walRestartMb: config.walRestartMb, walSyncThread: config.walSyncThread });
  const app = await createApp({ config, database, clock: database.clock ?? systemClock, log });
  let listener;
  try {
    listener = await app.listen();
  } catch (error) {
    const code = (error as { code?: string }).code;
    if (code === "EADDRINUSE" || code === "EACCES" || code === "EADDRNOTAVAIL") {
      const why = code === "EADDRINUSE" ? "is already in use" : code === "EACCES" ? "needs more privileges" : "is not an address of this machine";
      process.stderr.write(`cannot listen on ${config.host}:${config.port}: the port ${why} (${code}); set SWITCHYARD_PORT or SWITCHYARD_HOST\n`);
      process.exit(2);
    }
    throw error;
  }
  log.info("switchyard listening", {
    version: VERSION,
    address: listener.address,
    port: listener.port,
    protocols: ["grpc", "grpc-web", "connect", "rest", "legacy"],
    data_dir: config.dataDir,
    bus: config.natsUrl ? "nats" : "in-process",
  });
  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info("shutting down", { signal, grace_ms: config.shutdownGraceMs });
    // Half the grace period still accepting (readyz answers 503), the other half to finish.
    await app.close({ keepAcceptingMs: Math.floor(config.shutdownGraceMs / 2) });
    log.info("stopped");
    process.exit(0);
  };
  process.on("SIGTERM", () => void stop("SIGTERM"));
  process.on("SIGINT", () => void stop("SIGINT"));
}

main().catch((error) => {
  process.stderr.write(`${(error as Error)?.stack ?? String(error)}\n`);
  process.exit(1);
});
