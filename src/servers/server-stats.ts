import type { Clock } from "../core/clock.ts";
import { dayOf } from "./register-rules.ts";
import type { Registry } from "./registry.ts";
import type { ServerStore } from "./store.ts";
import type { TaskPort } from "./task-port.ts";
import type { ServerStatus } from "./types.ts";

/** Share of [start, end) a server was ONLINE or DEGRADED, maintenance left out of both sides. */
export function uptimeRatio(changes: { time: number; status: ServerStatus }[], start: number, end: number, current: ServerStatus): number {
  if (end <= start) return 0;
  let up = 0;
  let counted = 0;
  const points = changes.length ? changes : [{ time: start, status: current }];
  for (let i = 0; i < points.length; i++) {
    const from = Math.max(start, points[i]!.time);
    const to = Math.min(end, i + 1 < points.length ? points[i + 1]!.time : end);
    if (to <= from) continue;
    const s = points[i]!.status;
    if (s === "maintenance") continue;
    counted += to - from;
    if (s === "online" || s === "degraded") up += to - from;
  }
  return counted ? up / counted : 0;
}

/** Per-server metrics and daily statistics, computed from the task engine's own records. */
export function createServerStats(deps: { registry: Registry; store: ServerStore; tasks: TaskPort; clock: Clock }) {
  const { registry, store, tasks, clock } = deps;
  return {
    /** Lifetime counters and current load (seed 001 `GET /api/servers/:id/metrics`). */
    async metrics(tenant: string, id: string) {
      const v = registry.get(tenant, id);
      const c = await tasks.countsFor(tenant, registry.holderName(v));
      return { serverId: v.id, uptimeMs: v.uptimeMs, ...c, currentLoad: v.currentLoad, activeTasks: v.activeTasks, lastLoad: v.lastLoad };
    },
    /** One UTC day (seed 001 `GET /api/stats/servers/:id?date=`). */
    async day(tenant: string, id: string, date: string | undefined) {
      const v = registry.get(tenant, id);
      const now = clock.now();
      const day = dayOf(date, now);
      const c = await tasks.countsFor(tenant, registry.holderName(v), { start: day.start, end: day.end });
      const from = Math.max(day.start, v.registerTime);
      const to = Math.min(day.end, now);
      const ratio = uptimeRatio(store.statusChanges(tenant, id, from, to), from, to, v.status);
      return {
        serverId: v.id,
        date: day.date,
        ...c,
        successRate: c.tasksProcessed ? c.successCount / c.tasksProcessed : 0,
        uptimeRatio: ratio,
      };
    },
  };
}

export type ServerStats = ReturnType<typeof createServerStats>;
