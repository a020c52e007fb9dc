import { Cron } from "croner";
import { AppError, invalidArgument } from "../core/errors.ts";
import { newId } from "../core/ids.ts";
import type { Json } from "../tasks/types.ts";
import { page, notFound } from "./checks.ts";
import type { InsightsDomain } from "./context.ts";

import { scheduleStore } from "./store.ts";
import type { Schedule } from "./types.ts";

const MAX_SCHEDULES = 1000;
const NAME = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,199}$/;

/** The next tick of `cron` strictly after `after` (ms), or undefined if it never ticks again. */
function nextTick(cron: string, after: number): number | undefined {
  return new Cron(cron, { paused: true, timezone: "UTC" }).nextRun(new Date(after))?.getTime();
}

function checkCron(cron: string): void {
  let c: Cron;
  try {
    c = new Cron(cron, { paused: true, timezone: "UTC" });
  } catch (e) {
    throw invalidArgument("cron", `not a cron expression: ${e instanceof Error ? e.message : String(e)}`);
  }
  const fields = cron.trim().split(/\s+/).length;
  if (fields !== 5 && fields !== 6) throw invalidArgument("cron", "must have 5 fields (minute…weekday) or 6 (seconds first)");
  if (!c.nextRun()) throw invalidArgument("cron", "never ticks");
}

export async function createSchedule(d: InsightsDomain, tenant: string, input: { name: string; cron: string; queue: string; type: string; payload: Json | undefined; requestId: string }): Promise<Schedule> {
  const store = scheduleStore(d.database.sqlite);
  if (input.requestId) {
    if (input.requestId.length > 128) throw invalidArgument("request_id", "at most 128 characters");
    const seen = store.byRequest(tenant, input.requestId);
    if (seen) return seen;
  }
  if (!NAME.test(input.name)) throw invalidArgument("name", "1 to 200 characters: letters, digits, . _ : -, starting with a letter or digit");
  checkCron(input.cron);
  if (!/^[A-Za-z0-9][A-Za-z0-9._:\/-]{0,199}$/.test(input.queue)) throw invalidArgument("queue", "is required (a queue name)");
  if (input.type.length > 200) throw invalidArgument("type", "at most 200 characters");
  if (JSON.stringify(input.payload ?? null).length > 256 * 1024) throw invalidArgument("payload", "at most 256 KiB");
  if (store.byName(tenant, input.name)) throw new AppError("already_exists", "SCHEDULE_EXISTS", `a schedule named ${input.name} exists`, { field: "name" });
  if (store.count(tenant) >= MAX_SCHEDULES) throw new AppError("resource_exhausted", "SCHEDULE_LIMIT_EXCEEDED", `at most ${MAX_SCHEDULES} schedules per tenant`);
  const now = d.clock.now();
  const s: Schedule = {
    tenant, id: newId("sched"), name: input.name, cron: input.cron.trim(), queue: input.queue, type: input.type, payload: input.payload, paused: false,
    nextRunAt: nextTick(input.cron, now), lastRunAt: undefined, lastTaskId: "", runCount: 0, createdAt: now,
  };
  await d.database.committer.run(() => store.insert(s, input.requestId || null));
  return s;
}

export function listSchedules(d: InsightsDomain, tenant: string, pageSize: number, pageToken: string): { items: Schedule[]; next: string } {
  const { limit, offset } = page(pageSize, pageToken, 100, 1000);
  const items = scheduleStore(d.database.sqlite).list(tenant, limit + 1, offset);
  return { items: items.slice(0, limit), next: items.length > limit ? String(offset + limit) : "" };
}

function get(d: InsightsDomain, tenant: string, id: string): Schedule {
  const s = scheduleStore(d.database.sqlite).get(tenant, id);
  if (!s) throw notFound("SCHEDULE_NOT_FOUND", "schedule", id);
  return s;
}

export async function setPaused(d: InsightsDomain, tenant: string, id: string, paused: boolean): Promise<Schedule> {
  const s = get(d, tenant, id);
  if (s.paused === paused) return s;
  const next = paused ? null : (nextTick(s.cron, d.clock.now()) ?? null);
  await d.database.committer.run(() => scheduleStore(d.database.sqlite).setPaused(tenant, id, paused, next));
  return get(d, tenant, id);
}

export async function deleteSchedule(d: InsightsDomain, tenant: string, id: string): Promise<void> {
  get(d, tenant, id);
  await d.database.committer.run(() => scheduleStore(d.database.sqlite).delete(tenant, id));
}

/**
 * Creates the tasks of every due schedule (all tenants): one per tick, idempotent by
 * `schedule:<id>:<tick>`; the next tick is the first after now (missed ticks are skipped).
 * A schedule whose type is in `builtins` runs that function in-process instead.
 */
export async function runDueSchedules(d: InsightsDomain, builtins: Record<string, (tenant: string, tick: number) => Promise<unknown>> = {}): Promise<number> {
  const store = scheduleStore(d.database.sqlite);
  const now = d.clock.now();
  let created = 0;
  for (const s of store.due(now, 100)) {
    const tick = s.nextRunAt!;
    try {
      const builtin = builtins[s.type];
      if (builtin) {
        // A built-in job (fastest.background_jobs) runs in-process: no worker task for the tick itself.
        await builtin(s.tenant, tick);
        await d.database.committer.run(() => store.ran(s.tenant, s.id, tick, "", now, nextTick(s.cron, now) ?? null));
        created++;
        continue;
      }
      const { task } = await d.tasks.createTask(s.tenant, {
        queue: s.queue, type: s.type, payload: s.payload as Json | undefined, requestId: `schedule:${s.id}:${tick}`, title: `${s.name} (${new Date(tick).toISOString()})`, tags: [`schedule:${s.id}`],
      });
      await d.database.committer.run(() => store.ran(s.tenant, s.id, tick, task.id, now, nextTick(s.cron, now) ?? null));
      created++;
    } catch {
      // A refused template (its queue became invalid…) is retried at the next pass.
    }
  }
  return created;
}
