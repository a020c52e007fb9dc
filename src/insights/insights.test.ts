import { expect, it } from "bun:test";
import type { Bus } from "../bus/bus.ts";
import { createNatsBus } from "../bus/nats.ts";
import { createManualClock } from "../core/clock.ts";
import { startNatsServer } from "../testing/nats-server.ts";
import { listenAnnouncements } from "./announce.ts";
import { clearConversation, watchConversation } from "./conversations.ts";
import { AppError } from "../core/errors.ts";
import { createSecretBox } from "../core/secret-box.ts";
import type { Database } from "../db/client.ts";
import type { PgDatabase } from "../db/open.ts";
import type { Json, NewTask, Task } from "../tasks/types.ts";
import { describeDialects } from "../testing/dialects.ts";
import type { WorkspaceDomain } from "../workspaces/context.ts";
import type { InsightsDomain, TaskPort } from "./context.ts";
import { createInsightsDomain } from "./module.ts";
import { NEXT_STEPS_TYPE } from "./next-steps.ts";
import { CLAIM_MS, createSchedule, deleteSchedule, getSchedule, listSchedules, runDueSchedules, setPaused } from "./schedules.ts";
import { onTask, startCall, sweepPendingCalls } from "./task-call.ts";

/**
 * The tasks domain as this domain's port sees it, recording every `createTask` call (the tasks
 * domain has no PostgreSQL store on this branch; its engine is tested on its own). Idempotent by
 * request id like the engine, so the count of *calls* is what shows a doubled tick.
 */
function recordingTasks(clock: { now(): number }) {
  const tasks = new Map<string, Task>();
  const calls: NewTask[] = [];
  let refuse = 0;
  const port: TaskPort = {
    async createTask(tenant, input) {
      calls.push(input);
      if (refuse > 0) {
        refuse--;
        throw new AppError("invalid_argument", "INVALID_ARGUMENT", "refused", { field: "queue" });
      }
      const id = input.id ?? `task_${input.requestId ?? tasks.size}`;
      const seen = tasks.get(`${tenant}/${id}`);
      if (seen) return { task: seen };
      const now = clock.now();
      const task = {
        id, tenant, queue: input.queue, type: input.type ?? "", priority: 0, payload: input.payload, requiredCapabilities: [], runAt: now, timeoutMs: undefined,
        maxAttempts: input.maxAttempts ?? 1, attempt: 0, dependsOn: [], progress: 0, progressMessage: "", result: undefined, error: undefined, state: "pending",
        workerId: undefined, serverId: undefined, lease: undefined, metadata: undefined, createdAt: now, updatedAt: now, startedAt: undefined, finishedAt: undefined,
        requestId: input.requestId, title: input.title ?? "", description: "", tags: input.tags ?? [], retryCount: 0,
      } as Task;
      tasks.set(`${tenant}/${id}`, task);
      return { task };
    },
    async getTask(tenant, id) {
      return tasks.get(`${tenant}/${id}`);
    },
    follow: () => ({ [Symbol.asyncIterator]: () => ({ next: () => new Promise(() => {}) }) }) as AsyncIterable<never>,
    checkResults() {},
    async updateMetadata() {},
  };
  return { port, calls, tasks, refuseNext: (n: number) => void (refuse = n) };
}

const secretKey = new Uint8Array(32).fill(7);

async function domainOn(database: Database, clock = createManualClock(Date.UTC(2026, 0, 1, 0, 0, 0)), bus?: Bus) {
  const tasks = recordingTasks(clock);
  const d = createInsightsDomain(
    { database, clock, bus, secrets: await createSecretBox(secretKey), config: { insightsDeadlineMs: 200 } as never },
    { tasks: tasks.port, workspaces: {} as WorkspaceDomain },
  );
  return { d, clock, tasks };
}

async function reason(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return "ok";
  } catch (e) {
    return e instanceof AppError ? `${e.code}:${e.reason}` : String(e);
  }
}

const template = (name: string, cron = "* * * * *") => ({ name, cron, queue: "sched-q", type: "drift.check", payload: { all: true } as Json, requestId: "" });

describeDialects("insights", (open, dialect) => {
  it("creates schedules once per request id, refuses bad input and taken names, lists them by name, pauses, resumes and deletes them; tenants apart", async () => {
    const { d, clock } = await domainOn(await open());
    const a = await createSchedule(d, "default", { ...template("b-nightly", "0 3 * * *"), requestId: "r1" });
    expect(a.nextRunAt).toBe(Date.UTC(2026, 0, 1, 3, 0, 0));
    expect((await createSchedule(d, "default", { ...template("other"), requestId: "r1" })).id).toBe(a.id); // the first call's schedule
    await createSchedule(d, "default", template("a-minutely"));
    expect(await reason(createSchedule(d, "default", template("a-minutely")))).toBe("already_exists:SCHEDULE_EXISTS");
    expect(await reason(createSchedule(d, "default", template("x", "every minute")))).toBe("invalid_argument:INVALID_ARGUMENT");
    expect(await reason(createSchedule(d, "default", { ...template("x"), queue: "" }))).toBe("invalid_argument:INVALID_ARGUMENT");
    expect((await listSchedules(d, "default", 0, "")).items.map((s) => s.name)).toEqual(["a-minutely", "b-nightly"]);
    const first = await listSchedules(d, "default", 1, "");
    expect(first.items.map((s) => s.name)).toEqual(["a-minutely"]);
    expect((await listSchedules(d, "default", 1, first.next)).items.map((s) => s.name)).toEqual(["b-nightly"]);
    expect((await getSchedule(d, "default", a.id)).payload).toEqual({ all: true });

    const paused = await setPaused(d, "default", a.id, true);
    expect([paused.paused, paused.nextRunAt]).toEqual([true, undefined]);
    clock.advance(3600_000);
    const resumed = await setPaused(d, "default", a.id, false);
    expect([resumed.paused, resumed.nextRunAt]).toEqual([false, Date.UTC(2026, 0, 1, 3, 0, 0)]);

    expect((await listSchedules(d, "globex", 0, "")).items).toEqual([]);
    expect(await reason(setPaused(d, "globex", a.id, true))).toBe("not_found:SCHEDULE_NOT_FOUND");
    expect(await reason(deleteSchedule(d, "globex", a.id))).toBe("not_found:SCHEDULE_NOT_FOUND");
    await deleteSchedule(d, "default", a.id);
    expect(await reason(getSchedule(d, "default", a.id))).toBe("not_found:SCHEDULE_NOT_FOUND");
  });

  it("creates one task per tick, skips missed ticks, stops while paused, retries a refused tick and takes over a lapsed claim", async () => {
    const { d, clock, tasks } = await domainOn(await open());
    const s = await createSchedule(d, "default", template("every-minute"));
    expect(await runDueSchedules(d)).toBe(0); // not due yet
    clock.advance(60_000);
    expect(await runDueSchedules(d)).toBe(1);
    expect(await runDueSchedules(d)).toBe(0); // the same tick once
    expect(tasks.calls.map((c) => c.requestId)).toEqual([`schedule:${s.id}:${Date.UTC(2026, 0, 1, 0, 1)}`]);
    expect(tasks.calls[0]).toMatchObject({ queue: "sched-q", type: "drift.check", payload: { all: true }, tags: [`schedule:${s.id}`] });
    let now = await getSchedule(d, "default", s.id);
    expect([now.runCount, now.lastTaskId, now.nextRunAt, now.claimedTick]).toEqual([1, `task_schedule:${s.id}:${Date.UTC(2026, 0, 1, 0, 1)}`, Date.UTC(2026, 0, 1, 0, 2), undefined]);

    clock.advance(10 * 60_000); // ten ticks missed: one task, then the first tick after now
    expect(await runDueSchedules(d)).toBe(1);
    expect((await getSchedule(d, "default", s.id)).nextRunAt).toBe(Date.UTC(2026, 0, 1, 0, 12));

    await setPaused(d, "default", s.id, true);
    clock.advance(5 * 60_000);
    expect(await runDueSchedules(d)).toBe(0);
    await setPaused(d, "default", s.id, false);
    clock.advance(60_000);

    // Refused (the tasks domain said no): the claim is released at once and the next pass retries the same tick.
    tasks.refuseNext(1);
    const calls = tasks.calls.length;
    expect(await runDueSchedules(d)).toBe(0);
    const refusedTick = (await getSchedule(d, "default", s.id)).claimedTick!;
    expect(refusedTick).toBe(Date.UTC(2026, 0, 1, 0, 17)); // resumed at 0:16, next tick 0:17
    expect(await runDueSchedules(d)).toBe(1);
    expect(tasks.calls.slice(calls).map((c) => c.requestId)).toEqual([`schedule:${s.id}:${refusedTick}`, `schedule:${s.id}:${refusedTick}`]);
    now = await getSchedule(d, "default", s.id);
    expect([now.runCount, now.claimedTick]).toEqual([3, undefined]);

    // A pass that claimed a tick and died (the claim is written, nothing else): after CLAIM_MS a later pass runs that tick.
    clock.set(now.nextRunAt!);
    const tick = now.nextRunAt!;
    expect(await d.database.write((tx) => d.store.claimTick(tx, "default", s.id, tick, tick + 60_000, clock.now() + CLAIM_MS))).toBe(true);
    const before = tasks.calls.length;
    expect(await runDueSchedules(d)).toBe(0); // held by the dead pass
    clock.advance(CLAIM_MS);
    expect(await runDueSchedules(d)).toBe(1);
    expect(tasks.calls.slice(before).map((c) => c.requestId)).toEqual([`schedule:${s.id}:${tick}`]);
    expect((await getSchedule(d, "default", s.id)).runCount).toBe(4);
  });

  it("runs a built-in job in-process once per tick (no task), and a paused tenant's not at all", async () => {
    const { d, clock, tasks } = await domainOn(await open());
    await createSchedule(d, "default", { ...template("jobs", "*/15 * * * *"), type: "fastest.background_jobs" });
    const paused = await createSchedule(d, "globex", { ...template("jobs", "*/15 * * * *"), type: "fastest.background_jobs" });
    await setPaused(d, "globex", paused.id, true);
    const ran: [string, number][] = [];
    const builtins = { "fastest.background_jobs": async (tenant: string, tick: number) => void ran.push([tenant, tick]) };
    for (let i = 0; i < 3; i++) {
      clock.advance(15 * 60_000);
      await runDueSchedules(d, builtins);
      await runDueSchedules(d, builtins);
    }
    expect(ran).toEqual([1, 2, 3].map((k) => ["default", Date.UTC(2026, 0, 1, 0, 15 * k)]));
    expect(tasks.calls).toEqual([]);
  });

  it("keeps a conversation's messages and events in order without gaps, pages and clears them; tenants apart (store contract)", async () => {
    const { d } = await domainOn(await open());
    const st = d.store;
    const conv = { id: "conv_1", projectId: "p1", workspaceId: "w1", title: "T", manifestHash: "", status: "active", clearedAt: 0, lastSeq: 0, createdAt: 1000, updatedAt: 1000 };
    await d.database.write((tx) => st.insertConversation(tx, "default", conv));
    const msgs = await d.database.write(function* (tx) {
      const out = [];
      for (let i = 0; i < 5; i++) {
        out.push(yield* st.insertMessage(tx, "default", { id: `m${i}`, conversationId: "conv_1", role: i % 2 ? "assistant" : "user", content: `c${i}`, status: "complete", error: "", changedFiles: [], taskId: i === 3 ? "task_t" : "", createdAt: 2000 + i, completedAt: 2000 + i }));
        yield* st.appendEvent(tx, "default", { conversationId: "conv_1", type: "message_created", messageId: `m${i}`, data: { i }, createdAt: 2000 + i });
      }
      return out;
    });
    expect(msgs.map((m) => m.seq)).toEqual([1, 2, 3, 4, 5]);
    const read = <T,>(f: Parameters<typeof d.database.read<T>>[0]) => d.database.read(f);
    expect((await read((tx) => st.eventsAfter(tx, "default", "conv_1", 2, 10))).map((e) => [e.sequence, e.data.i])).toEqual([[3, 2], [4, 3], [5, 4]]);
    expect((await read((tx) => st.listMessages(tx, "default", "conv_1", 2, 0, 0))).map((m) => m.id)).toEqual(["m3", "m4"]);
    expect((await read((tx) => st.listMessages(tx, "default", "conv_1", 2, 0, 4))).map((m) => m.id)).toEqual(["m1", "m2"]);
    expect((await read((tx) => st.listMessages(tx, "default", "conv_1", 10, 2002, 0))).map((m) => m.id)).toEqual(["m0", "m1"]);
    expect((await read((tx) => st.messageOfTask(tx, "default", "task_t")))?.id).toBe("m3");
    expect(await read((tx) => st.getConversation(tx, "globex", "conv_1"))).toBeUndefined();
    expect(await read((tx) => st.eventsAfter(tx, "globex", "conv_1", 0, 10))).toEqual([]);
    expect((await read((tx) => st.getConversation(tx, "default", "conv_1")))?.lastSeq).toBe(5);
    expect(await d.database.write((tx) => st.clearMessages(tx, "default", "conv_1"))).toBe(5);
    expect(await read((tx) => st.countMessages(tx, "default", "conv_1"))).toBe(0);
    expect(await d.database.write((tx) => st.clearMessages(tx, "default", "conv_1"))).toBe(0);
    const q = { conversationId: "conv_1", id: "q1", messageId: "m3", taskId: "task_t", questions: [{ question: "which?", options: ["a", "b"] }], status: "pending", answers: undefined, createdAt: 3000 };
    expect(await d.database.write((tx) => st.insertQuestion(tx, "default", q))).toBe(true);
    expect(await d.database.write((tx) => st.insertQuestion(tx, "default", q))).toBe(false);
    expect(await d.database.write((tx) => st.resolveQuestion(tx, "default", "conv_1", "q1", "answered", [["a"]]))).toBe(true);
    expect(await d.database.write((tx) => st.resolveQuestion(tx, "default", "conv_1", "q1", "rejected", undefined))).toBe(false);
    expect((await read((tx) => st.getQuestion(tx, "default", "conv_1", "q1")))?.answers).toEqual([["a"]]);
  });

  it("replaces an Atlas graph keeping its order, and stores settings, credentials and deployments per tenant (store contract)", async () => {
    const { d } = await domainOn(await open());
    const st = d.store;
    const concepts = ["zeta", "alpha", "Mid", "beta"].map((n, i) => ({ id: `c_${n}`, name: n, description: "", layer: "code", path: `${n}.ts`, parentId: i ? "c_zeta" : "", updatedAt: 0 }));
    const edges = [{ id: "e2", sourceId: "c_alpha", targetId: "c_beta", type: "depends_on", weight: 0.5 }, { id: "e1", sourceId: "c_zeta", targetId: "c_alpha", type: "contains", weight: 1 }];
    for (let round = 0; round < 2; round++) await d.database.write((tx) => st.replaceAtlas(tx, "default", "p1", { concepts, edges, snapshotId: `s${round}`, truncated: round === 1 }, 5000));
    const g = await d.database.read(function* (tx) {
      return { concepts: yield* st.concepts(tx, "default", "p1"), edges: yield* st.edges(tx, "default", "p1"), index: yield* st.atlasIndex(tx, "default", "p1") };
    });
    expect(g.concepts.map((c) => c.name)).toEqual(["zeta", "alpha", "Mid", "beta"]);
    expect(g.edges).toEqual(edges);
    expect(g.index).toEqual({ snapshotId: "s1", concepts: 4, edges: 2, truncated: true });
    expect(await d.database.read((tx) => st.concepts(tx, "globex", "p1"))).toEqual([]);

    await d.database.write((tx) => st.putSettings(tx, "default", { workspaceId: "w1", autoDeploy: true, runtimeOverride: "bun", buildCommand: "b", startCommand: "s", updatedAt: 7 }));
    expect(await d.database.read((tx) => st.getSettings(tx, "default", "w1"))).toEqual({ workspaceId: "w1", autoDeploy: true, runtimeOverride: "bun", buildCommand: "b", startCommand: "s", updatedAt: 7 });
    for (const provider of ["railway", "fly"]) {
      await d.database.write((tx) => st.upsertCredential(tx, "default", { id: `cred_${provider}`, provider, userId: "u", sealed: "x", metadata: { a: 1 }, createdAt: 1, updatedAt: 1 }));
    }
    expect((await d.database.read((tx) => st.listCredentials(tx, "default"))).map((c) => c.provider)).toEqual(["fly", "railway"]);
    expect(await d.database.write((tx) => st.deleteCredential(tx, "default", "fly"))).toBe(true);
    expect(await d.database.write((tx) => st.deleteCredential(tx, "globex", "railway"))).toBe(false);
    const dep = { id: "dep_1", workspaceId: "w1", projectId: "p1", snapshotId: "", status: "queued", trigger: "manual", url: "", error: "", conversationId: "conv_1", taskId: "t3", tasks: { detect: "t1", provision: "t2", deploy: "t3" }, startedAt: 1_767_225_600_000, completedAt: undefined };
    await d.database.write((tx) => st.insertDeployment(tx, "default", dep, "req-1"));
    await d.database.write((tx) => st.updateDeployment(tx, "default", "dep_1", { status: "failed", error: "boom", completedAt: 1_767_225_600_001 }));
    expect(await d.database.read((tx) => st.deploymentByRequest(tx, "default", "req-1"))).toMatchObject({ id: "dep_1", status: "failed", error: "boom", completedAt: 1_767_225_600_001, tasks: dep.tasks });
    expect((await d.database.read((tx) => st.failedDeployments(tx, "default"))).map((x) => x.id)).toEqual(["dep_1"]);
    expect(await d.database.read((tx) => st.deploymentByRequest(tx, "globex", "req-1"))).toBeUndefined();
  });

  it("keeps next steps, decisions, runs, diagrams, resources, action items and calls per tenant, in their orders (store contract)", async () => {
    const { d } = await domainOn(await open());
    const st = d.store;
    const T = 1_767_225_600_000; // ms timestamps beyond 32 bits
    await d.database.write(function* (tx) {
      for (let i = 0; i < 3; i++) {
        yield* st.insertNextStep(tx, "default", { id: `step_${i}`, projectId: "p1", title: `S${i}`, description: "", rationale: "", priority: "high", category: "fix", status: "pending", helpful: undefined, taskId: "task_n", createdAt: T + (i === 2 ? 0 : i), updatedAt: T });
        yield* st.insertDecision(tx, "default", { id: `dec_${i}`, projectId: "p1", title: `D${i}`, decision: "x", rationale: "", conversationId: "conv_1", messageId: "", concepts: ["a", "b"], taskId: "task_d", createdAt: T + i });
        yield* st.insertRun(tx, "default", { id: `run_${i}`, itemId: "ai_1", workspaceId: "w1", status: "queued", attemptCount: 0, maxAttempts: 3, result: undefined, error: "", baseManifestHash: "h", resultManifestHash: "", taskId: `task_r${i}`, createdAt: T + i, updatedAt: T + i, completedAt: undefined });
        yield* st.insertResource(tx, "default", { id: `res_${i}`, projectId: "p1", type: "database", provider: "railway", name: `db${i}`, status: "active", providerResourceId: `pr${i}`, sealedConnection: "sealed", envVarKeys: ["DATABASE_URL"], createdAt: T + i, updatedAt: T + i });
      }
      yield* st.insertActionItem(tx, "default", { id: "ai_1", type: "security", severity: "high", workspaceId: "w1", projectId: "p1", title: "t", description: "", files: ["a.ts"], createdAt: T });
      yield* st.insertActionItem(tx, "default", { id: "ai_1", type: "security", severity: "low", workspaceId: "w1", projectId: "p1", title: "again", description: "", files: [], createdAt: T });
      yield* st.dismiss(tx, "default", "ai_1@", T);
      yield* st.dismiss(tx, "default", "ai_1@", T + 1);
      yield* st.insertDiagram(tx, "default", { id: "diag_1", projectId: "p1", conceptId: "", type: "flow", title: "F", nodes: [{ id: "n", label: "N" }], edges: [], taskId: "task_g", createdAt: T });
      yield* st.insertCall(tx, { tenant: "default", taskId: "task_v", type: "credentials.validate", subject: "railway", status: "pending", output: undefined, error: undefined, createdAt: T, finishedAt: undefined }, "sealed-token");
    });
    const read = <T,>(f: Parameters<typeof d.database.read<T>>[0]) => d.database.read(f);
    expect((await read((tx) => st.listNextSteps(tx, "default", "p1", "pending", 2, 0))).map((x) => x.id)).toEqual(["step_1", "step_2"]); // newest first, then id descending
    expect((await read((tx) => st.listNextSteps(tx, "default", "p1", "pending", 2, 2))).map((x) => x.id)).toEqual(["step_0"]);
    expect((await read((tx) => st.nextStepsOfTask(tx, "default", "task_n"))).map((x) => x.id)).toEqual(["step_0", "step_1", "step_2"]); // insertion order
    expect(await d.database.write((tx) => st.updateNextStep(tx, "default", "p1", "step_0", { helpful: false }, T + 9))).toBe(true);
    expect(await d.database.write((tx) => st.updateNextStep(tx, "default", "p1", "step_0", { status: "started" }, T + 10))).toBe(true);
    expect(await d.database.write((tx) => st.updateNextStep(tx, "globex", "p1", "step_0", { status: "started" }, T + 10))).toBe(false);
    expect(await read((tx) => st.getNextStep(tx, "default", "p1", "step_0"))).toMatchObject({ status: "started", helpful: false, updatedAt: T + 10 });
    expect((await read((tx) => st.listDecisions(tx, "default", "p1", 10, 0))).map((x) => [x.id, x.concepts])).toEqual([["dec_2", ["a", "b"]], ["dec_1", ["a", "b"]], ["dec_0", ["a", "b"]]]);
    expect((await read((tx) => st.decisionsOfTask(tx, "default", "task_d"))).map((x) => x.id)).toEqual(["dec_0", "dec_1", "dec_2"]);
    expect(await read((tx) => st.lastExtraction(tx, "default", "p1"))).toBe(0);

    await d.database.write((tx) => st.updateRun(tx, "default", "run_1", { status: "ready", attemptCount: 2, result: { summary: "s", report: "", patch: "", checks: [], files: [] }, completedAt: T + 5 }, T + 5));
    expect(await read((tx) => st.runOfTask(tx, "default", "task_r1"))).toMatchObject({ id: "run_1", status: "ready", attemptCount: 2, completedAt: T + 5, result: { summary: "s" } });
    expect((await read((tx) => st.runsOfItem(tx, "default", "ai_1", 2, 0))).map((x) => x.id)).toEqual(["run_2", "run_1"]);
    expect([...(await read((tx) => st.latestRuns(tx, "default")))]).toEqual([["ai_1", "run_2"]]);
    expect(await read((tx) => st.getRun(tx, "globex", "run_1"))).toBeUndefined();

    expect((await read((tx) => st.listResources(tx, "default", "p1", 10, 0))).map((x) => x.id)).toEqual(["res_2", "res_1", "res_0"]);
    await d.database.write((tx) => st.setResourceStatus(tx, "default", "res_1", "failed", T + 7));
    expect(await read((tx) => st.getResource(tx, "default", "p1", "res_1"))).toMatchObject({ status: "failed", updatedAt: T + 7, envVarKeys: ["DATABASE_URL"] });
    await d.database.write((tx) => st.deleteResource(tx, "default", "res_1"));
    expect(await read((tx) => st.getResource(tx, "default", "p1", "res_1"))).toBeUndefined();

    expect(await read((tx) => st.actionItems(tx, "default"))).toEqual([{ id: "ai_1", type: "security", severity: "high", workspaceId: "w1", projectId: "p1", title: "t", description: "", files: ["a.ts"], createdAt: T }]);
    expect([...(await read((tx) => st.dismissed(tx, "default")))]).toEqual(["ai_1@"]);
    expect(await read((tx) => st.actionItems(tx, "globex"))).toEqual([]);
    expect((await read((tx) => st.diagramOfTask(tx, "default", "task_g")))?.nodes).toEqual([{ id: "n", label: "N" }]);
    expect((await read((tx) => st.listDiagrams(tx, "default", "p1", 10, 0))).map((x) => x.id)).toEqual(["diag_1"]);

    expect(await read((tx) => st.callSecret(tx, "default", "task_v"))).toBe("sealed-token");
    expect(await d.database.write((tx) => st.finishCall(tx, "default", "task_v", { status: "done", output: { valid: true } }, T + 3))).toBe(true);
    expect(await d.database.write((tx) => st.finishCall(tx, "default", "task_v", { status: "failed", error: { reason: "X", message: "" } }, T + 4))).toBe(false);
    expect(await read((tx) => st.callSecret(tx, "default", "task_v"))).toBeUndefined(); // erased when finished
    expect(await read((tx) => st.getCall(tx, "default", "task_v"))).toMatchObject({ status: "done", output: { valid: true }, finishedAt: T + 3 });
    expect(await read((tx) => st.pendingCalls(tx, 10))).toEqual([]);

    const conv = { id: "conv_2", projectId: "p1", workspaceId: "w1", title: "T", manifestHash: "", status: "active", clearedAt: 0, lastSeq: 0, createdAt: T, updatedAt: T };
    await d.database.write((tx) => st.insertConversation(tx, "default", conv));
    await d.database.write((tx) => st.insertConversation(tx, "default", { ...conv, id: "conv_3", createdAt: T + 1, updatedAt: T + 1 }));
    await d.database.write((tx) => st.updateConversation(tx, "default", "conv_2", { title: "Renamed", clearedAt: T + 2 }, T + 2));
    expect((await read((tx) => st.listConversations(tx, "default", 10, 0))).map((c) => [c.id, c.title])).toEqual([["conv_2", "Renamed"], ["conv_3", "T"]]);
    expect((await read((tx) => st.conversationsOfProject(tx, "default", "p1"))).map((c) => c.id)).toEqual(["conv_2", "conv_3"]);
    expect(await read((tx) => st.countConversations(tx, "default"))).toBe(2);
    const m = await d.database.write((tx) => st.insertMessage(tx, "default", { id: "m_x", conversationId: "conv_2", role: "assistant", content: "", status: "streaming", error: "", changedFiles: [], taskId: "task_x", createdAt: T + 3, completedAt: undefined }));
    expect(await read((tx) => st.streamingMessages(tx, "default", "conv_2"))).toBe(1);
    await d.database.write((tx) => st.updateMessage(tx, "default", m.id, { content: "done", status: "complete", changedFiles: ["a.ts"], completedAt: T + 4 }));
    expect(await read((tx) => st.getMessage(tx, "default", "m_x"))).toMatchObject({ content: "done", status: "complete", changedFiles: ["a.ts"], completedAt: T + 4, seq: 1 });
    expect((await read((tx) => st.messagesSince(tx, "default", "conv_2", T + 2))).map((x) => x.id)).toEqual(["m_x"]);
    expect(await read((tx) => st.messagesSince(tx, "default", "conv_2", T + 3))).toEqual([]);
  });

  it("applies a finished task to its call once, even when it is reported several times at once", async () => {
    const { d, tasks } = await domainOn(await open());
    const { taskId } = await startCall(d, "default", { type: NEXT_STEPS_TYPE, subject: "p1", payload: {}, title: "next" });
    const task = (await tasks.port.getTask("default", taskId))!;
    const done: Task = { ...task, state: "succeeded", result: { next_steps: [{ title: "A", description: "d", priority: "high", category: "fix" }] } as Json };
    await Promise.all([onTask(d, done), onTask(d, done), onTask(d, done)]);
    expect((await d.database.read((tx) => d.store.nextStepsOfTask(tx, "default", taskId))).map((s) => s.title)).toEqual(["A"]);
    expect((await d.database.read((tx) => d.store.getCall(tx, "default", taskId)))?.status).toBe("done");
  });

  it("sweeps pending calls: one whose task finished unseen is applied, one whose task is gone fails, a young one waits", async () => {
    const { d, clock, tasks } = await domainOn(await open());
    const seen = await startCall(d, "default", { type: NEXT_STEPS_TYPE, subject: "p1", payload: {}, title: "unseen" });
    const gone = await startCall(d, "default", { type: NEXT_STEPS_TYPE, subject: "p1", payload: {}, title: "gone" });
    Object.assign(tasks.tasks.get(`default/${seen.taskId}`)!, { state: "succeeded", result: { next_steps: [{ title: "S", description: "", priority: "low", category: "docs" }] } });
    tasks.tasks.delete(`default/${gone.taskId}`);
    await sweepPendingCalls(d, 30_000);
    const status = async (id: string) => (await d.database.read((tx) => d.store.getCall(tx, "default", id)))?.status;
    expect([await status(seen.taskId), await status(gone.taskId)]).toEqual(["pending", "pending"]); // younger than 30 s
    clock.advance(30_000);
    await sweepPendingCalls(d, 30_000);
    expect([await status(seen.taskId), await status(gone.taskId)]).toEqual(["done", "failed"]);
    expect((await d.database.read((tx) => d.store.nextStepsOfTask(tx, "default", seen.taskId))).map((x) => x.title)).toEqual(["S"]);
  });

  if (dialect === "postgres") {
    it("two instances on one PostgreSQL run each tick of a schedule exactly once, none missed", async () => {
      const first = await open();
      const { openPostgresDatabase } = await import("../db/open.ts");
      const second = await openPostgresDatabase((first as PgDatabase).pg.url);
      try {
        const clock = createManualClock(Date.UTC(2026, 0, 1, 0, 0, 0));
        const a = await domainOn(first, clock);
        const b = await domainOn(second, clock);
        const s = await createSchedule(a.d, "default", template("every-second", "* * * * * *"));
        const jobs: [string, number][] = [];
        await createSchedule(b.d, "default", { ...template("builtin", "* * * * * *"), type: "fastest.background_jobs" });
        const builtins = (who: string) => ({ "fastest.background_jobs": async (_t: string, tick: number) => void jobs.push([who, tick]) });
        const TICKS = 40;
        for (let i = 1; i <= TICKS; i++) {
          clock.advance(1000);
          // Both instances' passes race for the same due ticks (twice each).
          await Promise.all([runDueSchedules(a.d, builtins("a")), runDueSchedules(b.d, builtins("b")), runDueSchedules(a.d, builtins("a")), runDueSchedules(b.d, builtins("b"))]);
        }
        const made = [...a.tasks.calls, ...b.tasks.calls].map((c) => c.requestId);
        const expected = Array.from({ length: TICKS }, (_, i) => `schedule:${s.id}:${Date.UTC(2026, 0, 1, 0, 0, i + 1)}`);
        expect(made.sort()).toEqual(expected.sort()); // one createTask per tick, across both instances
        expect(a.tasks.calls.length).toBeGreaterThan(0);
        expect(b.tasks.calls.length).toBeGreaterThan(0); // both instances took part
        expect(jobs.map(([, t]) => t).sort((x, y) => x - y)).toEqual(Array.from({ length: TICKS }, (_, i) => Date.UTC(2026, 0, 1, 0, 0, i + 1)));
        expect((await getSchedule(b.d, "default", s.id)).runCount).toBe(TICKS);
      } finally {
        await second.close();
      }
    }, 60_000);

    it("two instances following the same finished task apply it once", async () => {
      const first = await open();
      const { openPostgresDatabase } = await import("../db/open.ts");
      const second = await openPostgresDatabase((first as PgDatabase).pg.url);
      try {
        const a = await domainOn(first);
        const b = await domainOn(second);
        const { taskId } = await startCall(a.d, "default", { type: NEXT_STEPS_TYPE, subject: "p1", payload: {}, title: "next" });
        const task = (await a.tasks.port.getTask("default", taskId))!;
        const done: Task = { ...task, state: "succeeded", result: { next_steps: [{ title: "A", description: "d", priority: "high", category: "fix" }, { title: "B", description: "d", priority: "low", category: "docs" }] } as Json };
        await Promise.all([onTask(a.d, done), onTask(b.d, done), onTask(a.d, done), onTask(b.d, done)]);
        expect((await b.d.database.read((tx) => b.d.store.nextStepsOfTask(tx, "default", taskId))).map((s) => s.title)).toEqual(["A", "B"]);
      } finally {
        await second.close();
      }
    }, 60_000);

    it("two instances starting the same call (one request id) at once write its records once", async () => {
      const first = await open();
      const { openPostgresDatabase } = await import("../db/open.ts");
      const second = await openPostgresDatabase((first as PgDatabase).pg.url);
      try {
        const a = await domainOn(first);
        const b = await domainOn(second);
        let n = 0;
        const start = (x: { d: InsightsDomain }) =>
          startCall(x.d, "default", { type: NEXT_STEPS_TYPE, subject: "p1", payload: {}, title: "once", requestId: "same" }, (tx, taskId, now) => {
            const id = `step_${++n}`;
            return x.d.store.insertNextStep(tx, "default", { id, projectId: "p1", title: id, description: "", rationale: "", priority: "low", category: "docs", status: "pending", helpful: undefined, taskId, createdAt: now, updatedAt: now });
          });
        const results = await Promise.all([start(a), start(b), start(a), start(b)]);
        expect(new Set(results.map((r) => r.taskId)).size).toBe(1);
        expect(results.filter((r) => r.created).length).toBeGreaterThanOrEqual(1);
        expect((await a.d.database.read((tx) => a.d.store.nextStepsOfTask(tx, "default", results[0]!.taskId))).length).toBe(1);
      } finally {
        await second.close();
      }
    }, 60_000);

    it("two instances creating one schedule at once: one is created, a retry of its request answers it, another request is told the name is taken", async () => {
      const first = await open();
      const { openPostgresDatabase } = await import("../db/open.ts");
      const second = await openPostgresDatabase((first as PgDatabase).pg.url);
      try {
        const a = await domainOn(first);
        const b = await domainOn(second);
        const same = await Promise.all([a, b, a, b].map((x) => createSchedule(x.d, "default", { ...template("builtin-jobs"), requestId: "builtin" })));
        expect(new Set(same.map((x) => x.id)).size).toBe(1);
        const other = await Promise.all([a, b].map((x) => reason(createSchedule(x.d, "default", { ...template("builtin-jobs"), requestId: "" }))));
        expect(other).toEqual(["already_exists:SCHEDULE_EXISTS", "already_exists:SCHEDULE_EXISTS"]);
        expect((await listSchedules(b.d, "default", 0, "")).items.map((x) => x.id)).toEqual([same[0]!.id]);
      } finally {
        await second.close();
      }
    }, 60_000);

    it("streams a conversation on one instance while another applies its turn: events travel over NATS, in order, without gaps", async () => {
      const nats = await startNatsServer();
      const first = await open();
      const { openPostgresDatabase } = await import("../db/open.ts");
      const second = await openPostgresDatabase((first as PgDatabase).pg.url);
      const busA = await createNatsBus({ servers: nats.url, name: "insights-a" });
      const busB = await createNatsBus({ servers: nats.url, name: "insights-b" });
      const stop = new AbortController();
      try {
        const a = await domainOn(first, undefined, busA);
        const b = await domainOn(second, undefined, busB);
        listenAnnouncements(a.d, stop.signal);
        listenAnnouncements(b.d, stop.signal);
        const st = a.d.store;
        await a.d.database.write(function* (tx) {
          yield* st.insertConversation(tx, "default", { id: "conv_x", projectId: "p1", workspaceId: "w1", title: "T", manifestHash: "", status: "active", clearedAt: 0, lastSeq: 0, createdAt: 1, updatedAt: 1 });
          yield* st.insertMessage(tx, "default", { id: "m_a", conversationId: "conv_x", role: "assistant", content: "", status: "streaming", error: "", changedFiles: [], taskId: "task_turn", createdAt: 2, completedAt: undefined });
          yield* st.insertCall(tx, { tenant: "default", taskId: "task_turn", type: "conversation.turn", subject: "conv_x", status: "pending", output: undefined, error: undefined, createdAt: 2, finishedAt: undefined });
        });
        // Instance B streams; instance A applies the worker's reply deltas and the result.
        const seen: { sequence: number; type: string; delta?: unknown }[] = [];
        const watching = (async () => {
          for await (const e of watchConversation(b.d, "default", "conv_x", 0, stop.signal)) {
            seen.push({ sequence: e.sequence, type: e.type, delta: e.data.delta });
            if (e.type === "cleared") return;
          }
        })();
        // Once the watcher listens, it has replayed the (empty) store: what follows reaches it only live, over the bus.
        for (let i = 0; i < 500 && b.d.conversationWatchers.size === 0; i++) await Bun.sleep(10);
        expect(b.d.conversationWatchers.size).toBe(1);
        const turn = { id: "task_turn", tenant: "default", state: "running" } as Task;
        let text = "";
        for (const piece of ["Hel", "lo, ", "world"]) {
          await onTask(a.d, { ...turn, progressMessage: `${[...text].length}:${piece}` });
          text += piece;
        }
        await onTask(a.d, { ...turn, state: "succeeded", result: { content: text } as Json });
        await clearConversation(a.d, "default", "conv_x");
        await watching;
        expect(seen.map((e) => e.sequence)).toEqual([1, 2, 3, 4, 5]);
        expect(seen.map((e) => e.type)).toEqual(["message_delta", "message_delta", "message_delta", "message_completed", "cleared"]);
        expect(seen.slice(0, 3).map((e) => e.delta).join("")).toBe("Hello, world");
      } finally {
        stop.abort();
        await busA.close();
        await busB.close();
        await second.close();
        await nats.stop();
      }
    }, 60_000);
  }
});

export type { InsightsDomain };
