import type { Server } from "bun";
import type { Clock } from "../core/clock.ts";
import { silentLogger } from "../core/logger.ts";
import { createSecretBox } from "../core/secret-box.ts";
import type { Database } from "../db/client.ts";
import { DialectError } from "../db/dialect.ts";
import { createTaskEngine } from "../tasks/engine.ts";
import { taskPortOf } from "./module.ts";
import { createServersDomain, type ServersDomain } from "./servers.ts";
import type { TaskPort } from "./task-port.ts";

/** Waits until `check` answers a truthy value (polling), or throws after `ms` with `what`. */
export async function waitFor<T>(what: string, check: () => T | Promise<T>, ms = 15_000): Promise<NonNullable<T>> {
  const deadline = Date.now() + ms;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const v = await check();
      if (v) return v as NonNullable<T>;
      last = v;
    } catch (e) {
      last = e;
    }
    await Bun.sleep(20);
  }
  throw new Error(`timed out waiting for ${what} (last: ${String(last)})`);
}

/** A real HTTP backend for tests (Bun.serve on port 0) that records what it was sent. */
export interface TestBackend {
  url: string;
  server: Server<undefined>;
  /** Bodies POSTed to /predict, in order. */
  received: Record<string, any>[];
  /** Authorization headers seen. */
  auth: string[];
  healthChecks: number;
  stop(): void;
}

export function startBackend(handle: (body: Record<string, any>, backend: TestBackend) => Response | Promise<Response>, health: () => Response = () => Response.json({ status: "healthy" })): TestBackend {
  const b = { received: [], auth: [], healthChecks: 0 } as unknown as TestBackend;
  b.server = Bun.serve({
    port: 0,
    hostname: "127.0.0.1",
    async fetch(req) {
      const path = new URL(req.url).pathname;
      b.auth.push(req.headers.get("authorization") ?? "");
      if (path === "/health") {
        b.healthChecks++;
        return health();
      }
      if (path === "/predict" && req.method === "POST") {
        const body = (await req.json()) as Record<string, any>;
        b.received.push(body);
        return handle(body, b);
      }
      return new Response("not found", { status: 404 });
    },
  });
  b.url = `http://127.0.0.1:${b.server.port}`;
  b.stop = () => void b.server.stop(true);
  return b;
}

/**
 * A task port with no tasks: for the servers contract suite on PostgreSQL while the task engine
 * runs on SQLite only (the suites use the real engine wherever it opens). Drains are recorded.
 */
export function idleTaskPort(): TaskPort & { drained: Set<string>; streams: Set<string>; running: { taskId: string; holder: string }[] } {
  const drained = new Set<string>();
  const streams = new Set<string>();
  const running: { taskId: string; holder: string }[] = [];
  return {
    drained,
    streams,
    running,
    readyTasks: async () => [],
    claimFor: async () => undefined,
    complete: async () => false,
    fail: async () => false,
    extendLease: async () => false,
    releaseHeldBy: async () => [],
    setDrained: async (tenant, holder, on) => void (on ? drained.add(`${tenant}/${holder}`) : drained.delete(`${tenant}/${holder}`)),
    runningByHolder: async () => [...running],
    countsFor: async () => ({ tasksProcessed: 0, successCount: 0, failureCount: 0, averageProcessingTimeMs: 0 }),
    streamingWorkers: async () => new Set(streams),
    onHolderChange: () => () => {},
    onReady: () => () => {},
    chooseStreams: () => {},
    queueConfig: async () => undefined,
  };
}

/** The servers domain over an opened database (either dialect), with the real task engine where it runs. */
export async function openServersDomain(
  database: Database,
  clock: Clock,
  options: { key?: Uint8Array<ArrayBuffer>; refreshMs?: number; heartbeatTimeoutMs?: number } = {},
): Promise<{ domain: ServersDomain; tasks: TaskPort }> {
  let tasks: TaskPort;
  try {
    tasks = taskPortOf(createTaskEngine({ database, clock, events: () => {} }));
  } catch (error) {
    if (!(error instanceof DialectError)) throw error;
    tasks = idleTaskPort();
  }
  const domain = createServersDomain({
    database,
    clock,
    log: silentLogger,
    secrets: await createSecretBox(options.key ?? new Uint8Array(32).fill(7)),
    tasks,
    backendAllow: ["127.0.0.1"],
    heartbeatTimeoutMs: options.heartbeatTimeoutMs ?? 30_000,
    healthCheckIntervalMs: 60_000,
    dispatchTimeoutMs: 1000,
    pushQueues: [],
    callbackBase: () => "http://127.0.0.1:1",
    refreshMs: options.refreshMs,
  });
  await domain.ready;
  return { domain, tasks };
}
