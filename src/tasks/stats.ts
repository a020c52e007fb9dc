import type { OpDatabase } from "../db/dialect.ts";
import type { Clock } from "../core/clock.ts";
import { checkInt, dayRange } from "./rules.ts";
import type { TaskStore } from "./store.ts";
import type { TaskCounts } from "./types.ts";

export interface WorkerStat {
  workerId: string;
  tasksProcessed: number;
  successCount: number;
  failureCount: number;
  successRate: number;
  averageProcessingTimeMs: number;
}

export interface TaskStats {
  date: string;
  totalTasks: number;
  pendingTasks: number;
  runningTasks: number;
  successfulTasks: number;
  failedTasks: number;
  retriedTasks: number;
  cancelledTasks: number;
  counts: TaskCounts;
  averageProcessingTimeMs: number;
  serverCount: number;
  topServers: WorkerStat[];
  hourlyTrend: { hour: number; tasks: number }[];
  queues: { queue: string; counts: TaskCounts; averageProcessingTimeMs: number }[];
}

export interface HourlyStats {
  date: string;
  hours: { hour: number; created: number; completed: number; failed: number; averageTimeMs: number }[];
}

const KEYS: Record<number, keyof TaskCounts> = { 1: "pending", 2: "blocked", 3: "running", 4: "succeeded", 5: "failed", 6: "cancelled", 7: "timedOut" };

function counts(rows: { state: number; n: number; delayed?: number }[]): TaskCounts {
  const c: TaskCounts = { pending: 0, delayed: 0, blocked: 0, running: 0, succeeded: 0, failed: 0, cancelled: 0, timedOut: 0, total: 0 };
  for (const r of rows) {
    c[KEYS[r.state]!] += r.n;
    c.total += r.n;
    c.delayed += r.delayed ?? 0;
  }
  return c;
}

function workerStat(r: { w: string; done: number; ok: number; bad: number; avg: number | null }): WorkerStat {
  return {
    workerId: r.w,
    tasksProcessed: r.done,
    successCount: r.ok,
    failureCount: r.bad,
    successRate: r.done ? r.ok / r.done : 0,
    averageProcessingTimeMs: Math.round(r.avg ?? 0),
  };
}

/** Statistics in seed 001's shapes, by UTC day (reads, on either dialect). */
export function createTaskStats(deps: { database: OpDatabase; store: TaskStore; clock: Clock }) {
  const { database, store, clock } = deps;

  return {
    /** Totals and counts for the tasks created on one day (default today). */
    async taskStats(tenant: string, input: { date?: string; queue?: string; topServersLimit?: number }): Promise<TaskStats> {
      const now = clock.now();
      const day = dayRange(input.date, now);
      const top = input.topServersLimit ? checkInt("top_servers_limit", input.topServersLimit, 1, 100) : 5;
      const scope = { tenant, start: day.start, end: day.end, queue: input.queue || undefined };
      return database.read(function* (tx) {
        const byState = yield* store.statsByState(tx, scope, now);
        const c = counts(byState);
        const agg = yield* store.statsAggregate(tx, scope);
        const servers = yield* store.statsTopProcessors(tx, scope, top);
        const hourly = yield* store.statsCreatedByHour(tx, scope);
        const queueAvg = new Map((yield* store.statsQueueAverages(tx, scope)).map((r) => [r.queue, r.avg]));
        const queues = [...new Set(byState.map((r) => r.queue))].sort().map((queue) => ({
          queue,
          counts: counts(byState.filter((r) => r.queue === queue)),
          averageProcessingTimeMs: Math.round(queueAvg.get(queue) ?? 0),
        }));
        return {
          date: day.date,
          totalTasks: c.total,
          pendingTasks: c.pending + c.blocked,
          runningTasks: c.running,
          successfulTasks: c.succeeded,
          failedTasks: c.failed + c.timedOut,
          retriedTasks: agg.retried ?? 0,
          cancelledTasks: c.cancelled,
          counts: c,
          averageProcessingTimeMs: Math.round(agg.avg ?? 0),
          serverCount: agg.servers,
          topServers: servers.map(workerStat),
          hourlyTrend: hourly.map((h) => ({ hour: Math.floor(h.hour), tasks: h.n })),
          queues,
        };
      });
    },

    /** Per hour of one day: created (by creation time), completed and failed (by finish time). */
    async hourly(tenant: string, input: { date?: string; queue?: string }): Promise<HourlyStats> {
      const day = dayRange(input.date, clock.now());
      const scope = { tenant, start: day.start, end: day.end, queue: input.queue || undefined };
      const { created, finished } = await database.read(function* (tx) {
        return { created: yield* store.statsCreatedByHour(tx, scope), finished: yield* store.statsFinishedByHour(tx, scope) };
      });
      const hours = Array.from({ length: 24 }, (_, hour) => ({ hour, created: 0, completed: 0, failed: 0, averageTimeMs: 0 }));
      for (const r of created) hours[Math.floor(r.hour)]!.created = r.n;
      for (const r of finished) {
        const h = hours[Math.floor(r.hour)]!;
        h.completed = r.ok;
        h.failed = r.bad;
        h.averageTimeMs = Math.round(r.avg ?? 0);
      }
      return { date: day.date, hours };
    },

    /** What one worker or backend server finished (on one day by finish time, or all time). */
    async worker(tenant: string, input: { workerId: string; date?: string }): Promise<{ stats: WorkerStat; runningTasks: number }> {
      const range = input.date ? dayRange(input.date, clock.now()) : undefined;
      const { r, running } = await database.read(function* (tx) {
        return { r: yield* store.statsOfProcessor(tx, tenant, input.workerId, range), running: yield* store.runningOfWorker(tx, tenant, input.workerId) };
      });
      return { stats: workerStat({ w: input.workerId, done: r.done ?? 0, ok: r.ok ?? 0, bad: r.bad ?? 0, avg: r.avg }), runningTasks: running };
    },
  };
}
