// Two tenants on one server: every read, list, stream and mutation of tenant A's tasks, queues,
// mail and leases is attempted with tenant B's credentials, on gRPC, gRPC-Web, Connect, REST,
// the legacy routes and the WebSockets. Another tenant's resource is NOT_FOUND; lists, stats
// and streams never show it. Nothing of A's may reach B: 0 leaks.
import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import WebSocket from "ws";
import { LeaseService } from "../../gen/switchyard/mail/v1/lease_service_pb.js";
import { MailService } from "../../gen/switchyard/mail/v1/mail_service_pb.js";
import { QueueService } from "../../gen/switchyard/tasks/v1/queues_service_pb.js";
import { TaskService } from "../../gen/switchyard/tasks/v1/tasks_service_pb.js";
import { join } from "node:path";
import { signHs256 } from "../../src/testing/jwt.ts";
import { preparePython, runPython } from "../../src/testing/python.ts";
import { repoRoot, startTestServer, type TestServer } from "../../src/testing/server.ts";
import { ALL_PROTOCOLS, caller, outcome, type Caller } from "./helpers/identity-api.ts";

const SECRET = "tenant-matrix-secret-0123456789";
const SERVICE_TOKEN = "svc-globex-token-0123456789abcdef";
let server: TestServer;
let tokenA: string;
let tokenB: string;

/** Everything tenant A owns; B must never see any of it. */
const secretsOfA = new Set<string>();
const A_PAYLOAD = "payload-only-tenant-a-has";

beforeAll(async () => {
  server = await startTestServer({
    SWITCHYARD_JWT_SECRET: SECRET,
    // B is also reachable by a named service token mapped to its tenant.
    SWITCHYARD_SERVICE_TOKENS: `globex-worker:globex:worker:${SERVICE_TOKEN}`,
  });
  tokenA = await signHs256(SECRET, { sub: "alice", tenant: "acme", roles: ["user"], exp: Math.floor(Date.now() / 1000) + 3600 });
  tokenB = await signHs256(SECRET, { sub: "bob", tenant: "globex", roles: ["user"], exp: Math.floor(Date.now() / 1000) + 3600 });
});
afterAll(() => server.close());

/** Fails the test if anything in `value` mentions one of A's resources. */
function expectNoLeak(value: unknown, where: string): void {
  const text = JSON.stringify(value) ?? "";
  const leaked = [...secretsOfA, A_PAYLOAD].filter((s) => text.includes(s));
  expect({ where, leaked }).toEqual({ where, leaked: [] });
}

async function expectNotFound(p: Promise<unknown>, reason: string, where: string): Promise<void> {
  const r = await outcome(p);
  expect(r === "ok" ? { where, code: "ok" } : { where, code: r.code, reason: r.reason }).toEqual({ where, code: "not_found", reason });
}

describe.each(ALL_PROTOCOLS)("tenant isolation over %s", (protocol) => {
  let a: Caller;
  let b: Caller;
  let aTask: string;
  let aHeld: { id: string; token: string };
  let aSeq: string;
  const q = `q-${protocol}`;
  const aOnlyQueue = `acme-only-${protocol}`;
  const path = `src/${protocol}/a.ts`;

  beforeAll(async () => {
    a = caller(server.url, protocol, tokenA);
    b = caller(server.url, protocol, tokenB);
    // Both tenants have a queue of the same name, and a task with the same client-chosen id.
    const shared = `same-id-${protocol}`;
    aTask = (await a(TaskService, "createTask", { task: { id: shared, queue: q, type: "a-type", payload: A_PAYLOAD }, request_id: `rid-${protocol}` })).task.id;
    const bTask = (await b(TaskService, "createTask", { task: { id: shared, queue: q, type: "b-type" }, request_id: `rid-${protocol}` })).task;
    expect(bTask.id).toBe(shared);
    expect(bTask.type).toBe("b-type");
    await a(TaskService, "createTask", { task: { queue: aOnlyQueue, type: "a-type" } });
    const created = (await a(TaskService, "createTask", { task: { queue: `${q}-held`, type: "a-type" } })).task.id;
    const claimed = await a(TaskService, "claimTask", { id: created, worker_id: "a-worker" });
    aHeld = { id: created, token: claimed.lease.fencing_token };
    await a(QueueService, "createQueueConfig", { config: { name: `${aOnlyQueue}-cfg`, priority: 3 } });
    aSeq = (await a(MailService, "publish", { topic: `builds.${protocol}`, payload: A_PAYLOAD, sender: "alice" })).message.sequence;
    await a(LeaseService, "acquireLease", { path, holder: "alice" });
    for (const s of [aOnlyQueue, `${aOnlyQueue}-cfg`, "a-worker", "a-type", `${q}-held`]) secretsOfA.add(s);
    secretsOfA.add(created);
  });

  it("answers NOT_FOUND for every read and mutation of another tenant's task", async () => {
    await expectNotFound(b(TaskService, "getTask", { id: aHeld.id }), "TASK_NOT_FOUND", "getTask");
    await expectNotFound(b(TaskService, "updateTask", { id: aHeld.id, progress: 5 }), "TASK_NOT_FOUND", "updateTask");
    await expectNotFound(b(TaskService, "claimTask", { id: aHeld.id, worker_id: "b-worker" }), "TASK_NOT_FOUND", "claimTask");
    await expectNotFound(b(TaskService, "heartbeatTask", { id: aHeld.id, fencing_token: aHeld.token }), "TASK_NOT_FOUND", "heartbeatTask");
    await expectNotFound(b(TaskService, "completeTask", { id: aHeld.id, fencing_token: aHeld.token }), "TASK_NOT_FOUND", "completeTask");
    await expectNotFound(b(TaskService, "failTask", { id: aHeld.id, fencing_token: aHeld.token, error: { message: "x" } }), "TASK_NOT_FOUND", "failTask");
    await expectNotFound(b(TaskService, "releaseTask", { id: aHeld.id, fencing_token: aHeld.token }), "TASK_NOT_FOUND", "releaseTask");
    await expectNotFound(b(TaskService, "cancelTask", { id: aHeld.id }), "TASK_NOT_FOUND", "cancelTask");
    await expectNotFound(b(TaskService, "retryTask", { id: aHeld.id }), "TASK_NOT_FOUND", "retryTask");
    await expectNotFound(b(TaskService, "deleteTask", { id: aHeld.id }), "TASK_NOT_FOUND", "deleteTask");
    const batch = await b(TaskService, "batchCompleteTasks", { requests: [{ id: aHeld.id, fencing_token: aHeld.token }] });
    expect(batch.results[0]).toMatchObject({ ok: false, error_reason: "TASK_NOT_FOUND" });
    // The same id in B's tenant is B's own task, not A's.
    const own = await b(TaskService, "getTask", { id: aTask });
    expect(own.task.type).toBe("b-type");
    expectNoLeak(own, "getTask of the shared id");
    // A still holds its task, untouched.
    const still = await a(TaskService, "getTask", { id: aHeld.id });
    expect(still.task).toMatchObject({ state: "TASK_STATE_RUNNING", progress: 0 });
  });

  it("never lists, claims or counts another tenant's tasks and queues", async () => {
    expectNoLeak(await b(TaskService, "listTasks", { page_size: 1000 }), "listTasks");
    expectNoLeak(await b(TaskService, "listTasks", { queues: [aOnlyQueue] }), "listTasks by A's queue");
    expectNoLeak(await b(TaskService, "listReadyTasks", { page_size: 1000 }), "listReadyTasks");
    expectNoLeak(await b(TaskService, "listDeadLetterTasks", {}), "listDeadLetterTasks");
    expectNoLeak(await b(TaskService, "getTaskStats", {}), "getTaskStats");
    const worker = await b(TaskService, "getWorkerTaskStats", { worker_id: "a-worker" });
    expect(Number(worker.running_tasks)).toBe(0);
    expect(Number(worker.stats?.tasks_processed ?? 0)).toBe(0);
    const queues = await b(QueueService, "listQueues", { page_size: 1000 });
    expectNoLeak(queues, "listQueues");
    expect(queues.queues.map((x: { name: string }) => x.name)).toContain(q);
    const queue = await b(QueueService, "getQueue", { name: aOnlyQueue });
    expect(Number(queue.queue.counts.total)).toBe(0);
    expectNoLeak(await b(QueueService, "listQueueConfigs", {}), "listQueueConfigs");
    await expectNotFound(b(QueueService, "getQueueConfig", { name: `${aOnlyQueue}-cfg` }), "QUEUE_CONFIG_NOT_FOUND", "getQueueConfig");
    await expectNotFound(b(QueueService, "deleteQueueConfig", { name: `${aOnlyQueue}-cfg` }), "QUEUE_CONFIG_NOT_FOUND", "deleteQueueConfig");
    // A worker of B claiming from every queue name A uses gets nothing of A's.
    const claimed = await b(TaskService, "claimTasks", { worker_id: "b-worker", queues: [q, aOnlyQueue, `${q}-held`], max_tasks: 100 });
    expectNoLeak(claimed, "claimTasks");
    expect(claimed.assignments.map((x: { task: { type: string } }) => x.task.type)).toEqual(["b-type"]);
  });

  it("pauses only its own queue of a shared name", async () => {
    await b(QueueService, "pauseQueue", { name: q });
    expect((await b(QueueService, "getQueue", { name: q })).queue.paused).toBe(true);
    expect((await a(QueueService, "getQueue", { name: q })).queue.paused).toBe(false);
    const got = await a(TaskService, "claimTasks", { worker_id: "a-worker", queues: [q, aOnlyQueue], max_tasks: 10 });
    expect(got.assignments.length).toBe(2);
  });

  it("keeps mail topics, history and messages per tenant", async () => {
    expectNoLeak(await b(MailService, "listMessages", { topic: `builds.${protocol}` }), "listMessages topic");
    expectNoLeak(await b(MailService, "listMessages", { topic: ">", page_size: 1000 }), "listMessages >");
    await expectNotFound(b(MailService, "getMessage", { sequence: aSeq }), "MESSAGE_NOT_FOUND", "getMessage");
    const mine = await a(MailService, "getMessage", { sequence: aSeq });
    expect(mine.message.payload).toBe(A_PAYLOAD);
    // B publishes on the same topic name: A's history does not get it.
    await b(MailService, "publish", { topic: `builds.${protocol}`, payload: "from-b", sender: "bob" });
    const history = await a(MailService, "listMessages", { topic: `builds.${protocol}` });
    expect(history.messages.map((m: { payload: unknown }) => m.payload)).toEqual([A_PAYLOAD]);
  });

  it("keeps file leases per tenant", async () => {
    await expectNotFound(b(LeaseService, "getLease", { path }), "LEASE_NOT_FOUND", "getLease");
    expectNoLeak(await b(LeaseService, "listLeases", { page_size: 1000 }), "listLeases");
    // The same path is free in B's tenant; taking it there does not touch A's lease.
    const bLease = await b(LeaseService, "acquireLease", { path, holder: "bob" });
    expect(bLease.lease.holder).toBe("bob");
    const aLease = await a(LeaseService, "getLease", { path });
    expect(aLease.lease.holder).toBe("alice");
    const release = await outcome(b(LeaseService, "releaseLease", { path, fencing_token: aLease.lease.fencing_token }));
    expect(release === "ok" ? "ok" : release.reason).toBe("LEASE_LOST");
    expect((await a(LeaseService, "getLease", { path })).lease.holder).toBe("alice");
  });
});

describe("tenant isolation of streams, service tokens, legacy routes and WebSockets", () => {
  it("streams no event of another tenant (task events, mail subscribe, lease events)", async () => {
    const b = caller(server.url, "connect", tokenB);
    const a = caller(server.url, "connect", tokenA);
    const { clientFor } = await import("../../src/testing/clients.ts");
    const seen: unknown[] = [];
    const abort = new AbortController();
    const pump = async (it: AsyncIterable<unknown>) => {
      try {
        for await (const m of it) seen.push(m);
      } catch {
        // aborted
      }
    };
    const tasks = clientFor(TaskService, server.url, "connect", tokenB);
    const mail = clientFor(MailService, server.url, "connect", tokenB);
    const leases = clientFor(LeaseService, server.url, "connect", tokenB);
    const streams = [
      pump(tasks.watchTaskEvents({}, { signal: abort.signal })),
      pump(mail.subscribe({ topic: ">" }, { signal: abort.signal })),
      pump(leases.watchLeaseEvents({}, { signal: abort.signal })),
      // B's worker stream on the queue name A uses: it is pushed B's task only.
      pump(tasks.connectWorker({ workerId: "b-stream-worker", queues: ["stream-q"], credits: 10 }, { signal: abort.signal })),
    ];
    await Bun.sleep(200);
    await a(TaskService, "createTask", { task: { queue: "stream-q", type: "a-type", payload: A_PAYLOAD } });
    await a(MailService, "publish", { topic: "stream.topic", payload: A_PAYLOAD, sender: "alice" });
    await a(LeaseService, "acquireLease", { path: "stream/a.ts", holder: "alice" });
    // B's own activity arrives: proof the streams are live while A's did not.
    await b(TaskService, "createTask", { task: { queue: "stream-q", type: "b-type" } });
    await b(MailService, "publish", { topic: "stream.topic", payload: "b-mark", sender: "bob" });
    const deadline = Date.now() + 10_000;
    while (Date.now() < deadline && !(JSON.stringify(seen, (_, v) => (typeof v === "bigint" ? String(v) : v)).includes("b-mark") && seen.some((m: any) => m?.message?.case === "assigned"))) await Bun.sleep(20);
    abort.abort();
    await Promise.all(streams);
    const text = JSON.stringify(seen, (_, v) => (typeof v === "bigint" ? String(v) : v));
    expect(text).toContain("b-mark");
    expect(text).toContain("b-type");
    expect(text).not.toContain(A_PAYLOAD);
    expect(text).not.toContain("a-type");
    expect(text).not.toContain("stream/a.ts");
    const pushed = seen.filter((m: any) => m?.message?.case === "assigned").map((m: any) => m.message.value.task.type);
    expect(pushed).toEqual(["b-type"]);
  });

  it("maps a named service token to its tenant", async () => {
    const svc = caller(server.url, "grpc", SERVICE_TOKEN);
    const bob = caller(server.url, "grpc", tokenB);
    const made = (await svc(TaskService, "createTask", { task: { queue: "svc-q", type: "svc" } })).task.id;
    expect((await bob(TaskService, "getTask", { id: made })).task.type).toBe("svc");
    await expectNotFound(caller(server.url, "grpc", tokenA)(TaskService, "getTask", { id: made }), "TASK_NOT_FOUND", "service token's task from A");
  });

  it("answers another tenant's task as not found on the legacy routes of seeds 000, 001 and 003", async () => {
    const a = caller(server.url, "rest", tokenA);
    const id = (await a(TaskService, "createTask", { task: { queue: "legacy-q", type: "a-type", payload: { secret: A_PAYLOAD } } })).task.id;
    const as = (token: string) => ({ authorization: `Bearer ${token}`, "content-type": "application/json" });
    const get = (p: string, token = tokenB, method = "GET") =>
      fetch(server.url + p, { method, headers: as(token), body: method === "GET" ? undefined : JSON.stringify({ agentId: "bob" }) });
    const cases: [string, string][] = [
      ["GET", `/api/tasks/${id}`],
      ["POST", `/api/tasks/${id}/claim`],
      ["POST", `/api/tasks/${id}/release`],
      ["DELETE", `/api/tasks/${id}`],
      ["GET", `/api/task/${id}`],
      ["POST", `/api/task/${id}/cancel`],
      ["POST", `/api/task/${id}/retry`],
      ["GET", `/api/cli/queues/legacy-q/tasks/${id}`],
      ["DELETE", `/api/cli/queues/legacy-q/tasks/${id}`],
    ];
    for (const [method, p] of cases) {
      const res = await get(p, tokenB, method);
      const body = await res.text();
      expect({ route: `${method} ${p}`, status: res.status, body }).toMatchObject({ route: `${method} ${p}`, status: 404 });
      expect(body).not.toContain(A_PAYLOAD);
    }
    for (const p of ["/api/tasks", "/api/tasks/ready", "/api/tasks/stats", "/api/stats/tasks", "/api/cli/queues", "/api/cli/tasks"]) {
      const res = await get(p);
      const body = await res.text();
      expect({ p, leak: body.includes(A_PAYLOAD) || body.includes("legacy-q") }).toEqual({ p, leak: false });
    }
    // A sees its own task on the same routes.
    expect((await get(`/api/tasks/${id}`, tokenA)).status).toBe(200);
    // Mail leases on the seed 000 routes are per tenant too.
    const mine = await fetch(`${server.url}/api/mail/lease`, { method: "POST", headers: as(tokenA), body: JSON.stringify({ file: "legacy/a.ts", agentId: "alice", ttlMs: 60000 }) });
    expect(mine.status).toBeLessThan(300);
    const theirs = await (await get(`/api/mail/lease?file=legacy/a.ts`)).text();
    expect(theirs).not.toContain("alice");
    expect(await (await get(`/api/mail/lease?file=legacy/a.ts`, tokenA)).text()).toContain("alice");
  });

  it("scopes the WebSockets (seed 001 /ws, seed 000 mail subscribe) to the token's tenant", async () => {
    const a = caller(server.url, "rest", tokenA);
    const id = (await a(TaskService, "createTask", { task: { queue: "ws-q", type: "a-type" } })).task.id;
    const wsUrl = server.url.replace("http", "ws");
    const ws = new WebSocket(`${wsUrl}/ws?token=${tokenB}`);
    const first = await new Promise<Record<string, unknown>>((resolve, reject) => {
      ws.once("open", () => ws.send(JSON.stringify({ type: "subscribe", taskId: id })));
      ws.once("message", (d) => resolve(JSON.parse(String(d))));
      ws.once("error", reject);
    });
    ws.close();
    expect(first).toMatchObject({ type: "error", error: "Not found" });
    // Mail: A's broadcast never reaches B's socket; B's own does.
    const sock = new WebSocket(`${wsUrl}/api/mail/subscribe?agentId=bob&token=${tokenB}`);
    const frames: string[] = [];
    sock.on("message", (d) => frames.push(String(d)));
    await new Promise((resolve, reject) => (sock.once("open", resolve), sock.once("error", reject)));
    await a(MailService, "publish", { topic: "broadcast.all", payload: A_PAYLOAD, sender: "alice" });
    await a(MailService, "publish", { agent: "bob", payload: A_PAYLOAD, sender: "alice" });
    await caller(server.url, "rest", tokenB)(MailService, "publish", { topic: "broadcast.all", payload: "b-mark", sender: "carol" });
    const deadline = Date.now() + 10_000;
    while (Date.now() < deadline && !frames.join().includes("b-mark")) await Bun.sleep(20);
    sock.close();
    expect(frames.join()).toContain("b-mark");
    expect(frames.join()).not.toContain(A_PAYLOAD);
    // A wrong token is refused before the upgrade.
    const refused = new WebSocket(`${wsUrl}/ws?token=not-a-token-at-all`);
    const status = await new Promise<number>((resolve) => refused.once("unexpected-response", (_req, res) => resolve(res.statusCode ?? 0)));
    expect(status).toBe(401);
  });
});

describe("tenant isolation for a Python grpcio client", () => {
  it("answers NOT_FOUND to tenant B's Python worker for A's task, message and lease, and lists none of them", async () => {
    const a = caller(server.url, "grpc", tokenA);
    const id = (await a(TaskService, "createTask", { task: { queue: "py-q", type: "a-type", payload: A_PAYLOAD } })).task.id;
    const seq = (await a(MailService, "publish", { topic: "py.topic", payload: A_PAYLOAD, sender: "alice" })).message.sequence;
    await a(LeaseService, "acquireLease", { path: "py/a.ts", holder: "alice" });
    const py = await preparePython();
    const out = await runPython(py.python, [join(repoRoot, "test/python/tenant_probe.py"), `127.0.0.1:${server.port}`, py.stubs, tokenB, id, String(seq), "py/a.ts", A_PAYLOAD]);
    expect(out).toEqual({ get_task: "NOT_FOUND", cancel_task: "NOT_FOUND", claim_task: "NOT_FOUND", get_message: "NOT_FOUND", get_lease: "NOT_FOUND", leaked: false, no_token: "UNAUTHENTICATED" });
    // The same probe with A's own token finds them: the probe can see a leak when there is one.
    const own = await runPython(py.python, [join(repoRoot, "test/python/tenant_probe.py"), `127.0.0.1:${server.port}`, py.stubs, tokenA, id, String(seq), "py/a.ts", A_PAYLOAD]);
    expect(own).toMatchObject({ get_task: "OK", get_message: "OK", get_lease: "OK", leaked: true });
  }, 180_000);
});
