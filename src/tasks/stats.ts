import type { Database as Sqlite } from "bun:sqlite";
import type { Clock } from "../core/clock.ts";
import { checkInt, dayRange } from "./rules.ts";
import { S } from "./store.ts";
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

/** Who processed a task: the backend server that reported it, else the worker that held it. */
const PROCESSOR = "coalesce(server_id, worker_id)";
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

/** Statistics in seed 001's shapes, by UTC day. */
export function createTaskStats(deps: { sqlite: Sqlite; clock: Clock }) {
  const { sqlite, clock } = deps;
  const FINISHED = `state IN (${S.succeeded}, ${S.failed}, ${S.timed_out})`;
  const BAD = `state IN (${S.failed}, ${S.timed_out})`;
  const AVG_OK = `avg(CASE WHEN state = ${S.succeeded} AND started_at IS NOT NULL THEN finished_at - started_at END)`;

  return {
    /** Totals and counts for the tasks created on one day (default today). */
    taskStats(tenant: string, input: { date?: string; queue?: string; topServersLimit?: number }): TaskStats {
      const now = clock.now();
      const day = dayRange(input.date, now);
      const top = input.topServersLimit ? checkInt("top_servers_limit", input.topServersLimit, 1, 100) : 5;
      const qf = input.queue ? " AND queue = ?" : "";
      const args: (string | number)[] = [tenant, day.start, day.end, ...(input.queue ? [input.queue] : [])];
      const base = `FROM tasks WHERE tenant = ? AND created_at >= ? AND created_at < ?${qf}`;
      const byState = sqlite
        .prepare(`SELECT queue, state, count(*) AS n, sum(CASE WHEN state = ${S.pending} AND run_at > ${now} THEN 1 ELSE 0 END) AS delayed ${base} GROUP BY queue, state`)
        .all(...args) as { queue: string; state: number; n: number; delayed: number }[];
      const c = counts(byState);
      const agg = sqlite
        .prepare(`SELECT ${AVG_OK} AS avg, sum(CASE WHEN retry_count > 0 THEN 1 ELSE 0 END) AS retried,
          count(DISTINCT ${PROCESSOR}) AS servers ${base}`)
        .get(...args) as { avg: number | null; retried: number | null; servers: number };
      const servers = sqlite
        .prepare(`SELECT ${PROCESSOR} AS w, sum(CASE WHEN ${FINISHED} THEN 1 ELSE 0 END) AS done, sum(CASE WHEN state = ${S.succeeded} THEN 1 ELSE 0 END) AS ok,
          sum(CASE WHEN ${BAD} THEN 1 ELSE 0 END) AS bad, ${AVG_OK} AS avg ${base} AND ${PROCESSOR} IS NOT NULL GROUP BY w ORDER BY done DESC, w LIMIT ${top}`)
        .all(...args) as { w: string; done: number; ok: number; bad: number; avg: number | null }[];
      const hourly = sqlite
        .prepare(`SELECT (created_at - ${day.start}) / 3600000 AS hour, count(*) AS n ${base} GROUP BY hour ORDER BY hour`)
        .all(...args) as { hour: number; n: number }[];
      const queueAvg = new Map(
        (sqlite.prepare(`SELECT queue, ${AVG_OK} AS avg ${base} GROUP BY queue`).all(...args) as { queue: string; avg: number | null }[]).map((r) => [r.queue, r.avg]),
      );
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
    },

    /** Per hour of one day: created (by creation time), completed and failed (by finish time). */
    hourly(tenant: string, input: { date?: string; queue?: string }): HourlyStats {
      const day = dayRange(input.date, clock.now());
      const qf = input.queue ? " AND queue = ?" : "";
      const args: (string | number)[] = [tenant, day.start, day.end, ...(input.queue ? [input.queue] : [])];
      const created = sqlite
        .prepare(`SELECT (created_at - ${day.start}) / 3600000 AS hour, count(*) AS n FROM tasks WHERE tenant = ? AND created_at >= ? AND created_at < ?${qf} GROUP BY hour`)
        .all(...args) as { hour: number; n: number }[];
      const finished = sqlite
        .prepare(`SELECT (finished_at - ${day.start}) / 3600000 AS hour, sum(CASE WHEN state = ${S.succeeded} THEN 1 ELSE 0 END) AS ok,
          sum(CASE WHEN ${BAD} THEN 1 ELSE 0 END) AS bad, ${AVG_OK} AS avg
          FROM tasks WHERE tenant = ? AND finished_at IS NOT NULL AND finished_at >= ? AND finished_at < ?${qf} GROUP BY hour`)
        .all(...args) as { hour: number; ok: number; bad: number; avg: number | null }[];
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
    worker(tenant: string, input: { workerId: string; date?: string }): { stats: WorkerStat; runningTasks: number } {
      const where = ["tenant = ?", `${PROCESSOR} = ?`];
      const args: (string | number)[] = [tenant, input.workerId];
      if (input.date) {
        const day = dayRange(input.date, clock.now());
        where.push("finished_at >= ? AND finished_at < ?");
        args.push(day.start, day.end);
      }
      const r = sqlite
        .prepare(`SELECT ? AS w, sum(CASE WHEN ${FINISHED} THEN 1 ELSE 0 END) AS done, sum(CASE WHEN state = ${S.succeeded} THEN 1 ELSE 0 END) AS ok,
          sum(CASE WHEN ${BAD} THEN 1 ELSE 0 END) AS bad, ${AVG_OK} AS avg FROM tasks WHERE ${where.join(" AND ")}`)
        .get(input.workerId, ...args) as { w: string; done: number | null; ok: number | null; bad: number | null; avg: number | null };
      const running = (sqlite.prepare(`SELECT count(*) AS n FROM tasks WHERE tenant = ? AND state = ${S.running} AND worker_id = ?`).get(tenant, input.workerId) as { n: number }).n;
      return { stats: workerStat({ w: input.workerId, done: r.done ?? 0, ok: r.ok ?? 0, bad: r.bad ?? 0, avg: r.avg }), runningTasks: running };
    },
  };
}
