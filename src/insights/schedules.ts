import { Cron } from "croner";
import { AppError, invalidArgument } from "../core/errors.ts";
import { newId } from "../core/ids.ts";
import { pgCode } from "../db/dialect.ts";
import type { Json } from "../tasks/types.ts";
import { page, notFound } from "./checks.ts";
import type { InsightsDomain } from "./context.ts";
import type { Schedule } from "./types.ts";

const MAX_SCHEDULES = 1000;
/** How long a claimed tick is held by the pass that claimed it before any pass may take it over. */
export const CLAIM_MS = 60_000;
/** The same for built-in jobs run in-process (a background-jobs pass may take minutes). */
export const BUILTIN_CLAIM_MS = 15 * 60_000;
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
  const store = d.store;
  if (input.requestId) {
    if (input.requestId.length > 128) throw invalidArgument("request_id", "at most 128 characters");
    const seen = await d.database.read((tx) => store.scheduleByRequest(tx, tenant, input.requestId));
    if (seen) return seen;
  }
  if (!NAME.test(input.name)) throw invalidArgument("name", "1 to 200 characters: letters, digits, . _ : -, starting with a letter or digit");
  checkCron(input.cron);
  if (!/^[A-Za-z0-9][A-Za-z0-9._:\/-]{0,199}$/.test(input.queue)) throw invalidArgument("queue", "is required (a queue name)");
  if (input.type.length > 200) throw invalidArgument("type", "at most 200 characters");
  if (JSON.stringify(input.payload ?? null).length > 256 * 1024) throw invalidArgument("payload", "at most 256 KiB");
  const now = d.clock.now();
  const s: Schedule = {
    tenant, id: newId("sched"), name: input.name, cron: input.cron.trim(), queue: input.queue, type: input.type, payload: input.payload, paused: false,
    nextRunAt: nextTick(input.cron, now), lastRunAt: undefined, lastTaskId: "", runCount: 0, createdAt: now,
  };
  const exists = () => new AppError("already_exists", "SCHEDULE_EXISTS", `a schedule named ${input.name} exists`, { field: "name" });
  return d.database.write(function* (tx) {
    if (input.requestId) {
      const seen = yield* store.scheduleByRequest(tx, tenant, input.requestId);
      if (seen) return seen;
    }
    if (yield* store.scheduleByName(tx, tenant, input.name)) throw exists();
    if ((yield* store.countSchedules(tx, tenant)) >= MAX_SCHEDULES) throw new AppError("resource_exhausted", "SCHEDULE_LIMIT_EXCEEDED", `at most ${MAX_SCHEDULES} schedules per tenant`);
    yield* store.insertSchedule(tx, s, input.requestId || null);
    return s;
  }).catch(async (e) => {
    // Created concurrently by another instance (a unique index said so): its request's schedule, or the name is taken.
    if (pgCode(e) !== "23505") throw e;
    const seen = input.requestId ? await d.database.read((tx) => store.scheduleByRequest(tx, tenant, input.requestId)) : undefined;
    if (seen) return seen;
    throw exists();
  });
}

export async function listSchedules(d: InsightsDomain, tenant: string, pageSize: number, pageToken: string): Promise<{ items: Schedule[]; next: string }> {
  const { limit, offset } = page(pageSize, pageToken, 100, 1000);
  const items = await d.database.read((tx) => d.store.listSchedules(tx, tenant, limit + 1, offset));
  return { items: items.slice(0, limit), next: items.length > limit ? String(offset + limit) : "" };
}

export async function getSchedule(d: InsightsDomain, tenant: string, id: string): Promise<Schedule> {
  const s = await d.database.read((tx) => d.store.getSchedule(tx, tenant, id));
  if (!s) throw notFound("SCHEDULE_NOT_FOUND", "schedule", id);
  return s;
}

export async function setPaused(d: InsightsDomain, tenant: string, id: string, paused: boolean): Promise<Schedule> {
  const s = await getSchedule(d, tenant, id);
  if (s.paused === paused) return s;
  const next = paused ? null : (nextTick(s.cron, d.clock.now()) ?? null);
  await d.database.write((tx) => d.store.setSchedulePaused(tx, tenant, id, paused, next));
  return getSchedule(d, tenant, id);
}

export async function deleteSchedule(d: InsightsDomain, tenant: string, id: string): Promise<void> {
  await getSchedule(d, tenant, id);
  await d.database.write((tx) => d.store.deleteSchedule(tx, tenant, id));
}

/**
 * Runs every due schedule's tick (all tenants), exactly once across every instance on the
 * database: a pass first *claims* the tick with a conditional write (the schedule moves from
 * `tick` to the first tick after now only if it is still at `tick` and unclaimed — one pass of
 * one instance wins, the others skip it), then creates its task (idempotency key
 * `schedule:<id>:<tick>`, tagged `schedule:<id>`) or runs the built-in job in-process, then
 * records it and ends the claim. A claim not recorded within `CLAIM_MS` (the instance died, or
 * the task was refused: released at once) is taken over by a later pass, which re-creates the
 * task under the same key — so a tick is never lost and never doubled. Missed ticks are skipped.
 */
export async function runDueSchedules(d: InsightsDomain, builtins: Record<string, (tenant: string, tick: number) => Promise<unknown>> = {}): Promise<number> {
  const store = d.store;
  const now = d.clock.now();
  let created = 0;
  for (const s of await d.database.read((tx) => store.dueSchedules(tx, now, 100))) {
    const builtin = builtins[s.type];
    const until = now + (builtin ? BUILTIN_CLAIM_MS : CLAIM_MS);
    const retaken = s.claimedTick !== undefined;
    const tick = retaken ? s.claimedTick! : s.nextRunAt!;
    const claimed = await d.database.write((tx) =>
      retaken ? store.reclaimTick(tx, s.tenant, s.id, tick, s.claimedUntil ?? 0, until) : store.claimTick(tx, s.tenant, s.id, tick, nextTick(s.cron, now) ?? null, until),
    );
    if (!claimed) continue; // another pass (here or on another instance) has it
    let taskId = "";
    try {
      if (builtin) {
        // A built-in job (fastest.background_jobs) runs in-process: no worker task for the tick itself.
        await builtin(s.tenant, tick);
      } else {
        const { task } = await d.tasks.createTask(s.tenant, {
          queue: s.queue, type: s.type, payload: s.payload as Json | undefined, requestId: `schedule:${s.id}:${tick}`, title: `${s.name} (${new Date(tick).toISOString()})`, tags: [`schedule:${s.id}`],
        });
        taskId = task.id;
      }
    } catch {
      // A refused template (its queue became invalid…) is retried at the next pass.
      await d.database.write((tx) => store.releaseTick(tx, s.tenant, s.id, tick)).catch(() => {});
      continue;
    }
    if (await d.database.write((tx) => store.scheduleRan(tx, s.tenant, s.id, tick, taskId, d.clock.now()))) created++;
  }
  return created;
}
