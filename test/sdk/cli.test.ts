// The `switchyard` command line as a user runs it (`bun cli/src/main.ts …`, a child process per
// command) against real servers: every command's JSON output, tables at a fixed width, watch and
// tail with a time limit, exit codes, tokens from flag / env / `login`, help, completion, the
// single-file build.
import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { LeaseService } from "../../gen/switchyard/mail/v1/lease_service_pb.js";
import { ServerService } from "../../gen/switchyard/servers/v1/servers_service_pb.js";
import { ServerKind } from "../../gen/switchyard/servers/v1/servers_pb.js";
import { clientFor } from "../../src/testing/clients.ts";
import { freePort, repoRoot, startTestServer, type TestServer } from "../../src/testing/server.ts";
import { createProgram, run } from "../../cli/src/program.ts";
import type { Io } from "../../cli/src/context.ts";
import type { Command } from "commander";
import { SignJWT } from "jose";

const JWT_SECRET = "cli-test-jwt-secret-0123456789";

const main = join(repoRoot, "cli/src/main.ts");
const TOKEN = "cli-test-token-0123456789";
let server: TestServer;
let secured: TestServer;
let home: string;

beforeAll(async () => {
  home = mkdtempSync(join(tmpdir(), "switchyard-cli-"));
  const yamlPath = join(home, "queues.yaml");
  writeFileSync(yamlPath, "queues:\n  from-file:\n    priority: 3\n    max_attempts: 4\n");
  server = await startTestServer({ SWITCHYARD_QUEUE_CONFIG: yamlPath });
  secured = await startTestServer({ SWITCHYARD_API_TOKEN: TOKEN, SWITCHYARD_JWT_SECRET: JWT_SECRET });
});
afterAll(async () => {
  await server?.close();
  await secured?.close();
  rmSync(home, { recursive: true, force: true });
});

type Result = { code: number; stdout: string; stderr: string; ms: number };
type CliOpts = { env?: Record<string, string>; stdin?: string; url?: string };
const baseEnv = () => ({ HOME: home, SWITCHYARD_CONFIG: join(home, "config.json") });

/** Runs the CLI in this process (what main.ts runs), with its own streams and environment. */
async function cli(args: string[], opts: CliOpts = {}): Promise<Result> {
  const t0 = Date.now();
  let stdout = "";
  let stderr = "";
  const io: Io = {
    stdout: (t) => void (stdout += t),
    stderr: (t) => void (stderr += t),
    stdin: async () => opts.stdin ?? "",
    env: { ...baseEnv(), ...opts.env },
    isTTY: false,
  };
  const code = await run(["--server", opts.url ?? server.url, ...args], io);
  return { code, stdout, stderr, ms: Date.now() - t0 };
}

/** Runs `bun cli/src/main.ts` as a child process. */
async function spawnCli(args: string[], opts: CliOpts = {}): Promise<Result> {
  const t0 = Date.now();
  const env: Record<string, string> = { ...(process.env as Record<string, string>), ...baseEnv(), ...opts.env };
  const proc = Bun.spawn(["bun", main, "--server", opts.url ?? server.url, ...args], { env, stdout: "pipe", stderr: "pipe", stdin: opts.stdin ? new Blob([opts.stdin]) : "ignore" });
  const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  return { code, stdout, stderr, ms: Date.now() - t0 };
}
async function json(args: string[], opts?: Parameters<typeof cli>[1]): Promise<any> {
  const r = await cli(["-o", "json", ...args], opts);
  if (r.code !== 0) throw new Error(`switchyard ${args.join(" ")} exited ${r.code}: ${r.stderr}`);
  return JSON.parse(r.stdout);
}
const lines = (s: string) => s.split("\n").filter(Boolean);

describe("switchyard CLI", () => {
  it("creates, gets, lists, cancels, retries and deletes tasks (JSON output)", async () => {
    const created = await json(["tasks", "create", "-q", "cli-q", "-t", "echo", "-p", '{"n":1}', "--id", "cli-t1", "--priority", "7", "--tag", "x", "--max-attempts", "2"]);
    expect(created).toMatchObject({ id: "cli-t1", queue: "cli-q", type: "echo", state: "TASK_STATE_PENDING", priority: 7, payload: { n: 1 }, tags: ["x"], max_attempts: 2, attempt: 0 });
    // The README's `tasks create … --timeout 30s`: the task's time limit, not the call's deadline.
    expect(await json(["tasks", "create", "-q", "cli-timeouts", "--timeout", "45s"])).toMatchObject({ queue: "cli-timeouts", timeout: "45s" });
    const fromStdin = await json(["tasks", "create", "-q", "cli-q", "-p", "-", "--request-id", "r1"], { stdin: '"hello"' });
    expect(fromStdin.payload).toBe("hello");
    expect((await json(["tasks", "create", "-q", "cli-q", "-p", '"other"', "--request-id", "r1"])).id).toBe(fromStdin.id); // idempotent
    expect(await json(["tasks", "get", "cli-t1"])).toMatchObject({ id: "cli-t1", state: "TASK_STATE_PENDING" });
    const listed = await json(["tasks", "list", "-q", "cli-q", "--state", "pending", "--tag", "x"]);
    expect(listed.map((t: any) => t.id)).toEqual(["cli-t1"]);
    expect((await json(["tasks", "list", "-q", "cli-q", "--limit", "1"])).length).toBe(1);
    expect(await json(["tasks", "cancel", "cli-t1", "--reason", "cli test"])).toMatchObject({ state: "TASK_STATE_CANCELLED", error: { message: "cli test" } });
    expect(await json(["tasks", "retry", "cli-t1"])).toMatchObject({ state: "TASK_STATE_PENDING", attempt: 0 });
    expect(await json(["tasks", "delete", "cli-t1"])).toMatchObject({ id: "cli-t1" });
    const gone = await cli(["tasks", "get", "cli-t1"]);
    expect({ code: gone.code, stderr: gone.stderr }).toEqual({ code: 3, stderr: "switchyard: not_found TASK_NOT_FOUND: task not found: cli-t1\n" });
    const yaml = await cli(["-o", "yaml", "tasks", "get", fromStdin.id]);
    expect(yaml.stdout).toContain(`id: ${fromStdin.id}\n`);
    expect(yaml.stdout).toContain("state: TASK_STATE_PENDING\n");
  }, 30_000);

  it("prints tables that fit a fixed width, with no colour when not on a terminal", async () => {
    const a = await json(["tasks", "create", "-q", "tbl-a", "-t", "t", "--id", "tbl-1"]);
    await json(["tasks", "create", "-q", "tbl-b", "-t", "t", "--id", "tbl-2"]);
    await json(["queues", "pause", "tbl-b"]);
    const q = await cli(["queues", "get", "tbl-b", "--width", "200"]);
    expect(q.stdout).toBe(["NAME   PAUSED  PENDING  RUNNING  SUCCEEDED  FAILED  TOTAL", "tbl-b  true    1        0        0          0       1", ""].join("\n"));
    // 80 columns wide at its natural size; at 70 the widest column (CREATED) gives up 10.
    const natural = await cli(["tasks", "list", "-q", "tbl-a", "--width", "200"]);
    expect(lines(natural.stdout)).toEqual([
      "ID     QUEUE  TYPE  STATE    ATTEMPT  PRIORITY  WORKER  CREATED",
      `tbl-1  tbl-a  t     PENDING  0        0                 ${a.create_time}`,
    ]);
    const narrow = await cli(["tasks", "list", "-q", "tbl-a", "--width", "70"]);
    expect(lines(narrow.stdout)).toEqual([
      "ID     QUEUE  TYPE  STATE    ATTEMPT  PRIORITY  WORKER  CREATED",
      `tbl-1  tbl-a  t     PENDING  0        0                 ${a.create_time.slice(0, 13)}…`,
    ]);
    expect(lines(narrow.stdout)[1]!.length).toBe(70);
    expect(narrow.stdout).not.toContain("\x1b[");
  }, 30_000);

  it("colours states only on a terminal (a pseudo-terminal from script(1)), never with NO_COLOR", async () => {
    if (!Bun.which("script")) return console.log("script(1) not installed: terminal colours not checked");
    await json(["tasks", "create", "-q", "tty-q", "--id", "tty-1"]);
    const run = (env: Record<string, string>) =>
      Bun.spawn(["script", "-qec", `bun ${main} --server ${server.url} tasks get tty-1`, "/dev/null"], { env: { ...process.env, ...env }, stdout: "pipe", stderr: "pipe" });
    const colored = await new Response(run({}).stdout).text();
    expect(colored).toContain("\x1b[36mPENDING");
    const plain = await new Response(run({ NO_COLOR: "1" }).stdout).text();
    expect(plain).toContain("PENDING");
    expect(plain).not.toContain("\x1b[36m");
  }, 30_000);

  it("watches task events until a count or a time limit (JSON lines), and exits 0 on the limit", async () => {
    const watching = cli(["-o", "json", "tasks", "watch", "-q", "watch-q", "--count", "2", "--for", "15s"]);
    await Bun.sleep(600); // the watcher subscribes (events are live only)
    const t = await json(["tasks", "create", "-q", "watch-q", "--id", "watch-1"]);
    await json(["tasks", "cancel", t.id]);
    const r = await watching;
    expect(r.code).toBe(0);
    const events = lines(r.stdout).map((l) => JSON.parse(l));
    expect(events.map((e) => [e.kind, e.task.id])).toEqual([
      ["TASK_EVENT_KIND_CREATED", "watch-1"],
      ["TASK_EVENT_KIND_CANCELLED", "watch-1"],
    ]);
    const quiet = await cli(["tasks", "watch", "-q", "nothing-here", "--for", "500ms"]);
    expect({ code: quiet.code, stdout: quiet.stdout }).toEqual({ code: 0, stdout: "" });
    expect(quiet.ms).toBeLessThan(10_000);
  }, 30_000);

  it("gets, pauses and resumes queues; applies, lists, gets, deletes and reloads configs (JSON)", async () => {
    await json(["tasks", "create", "-q", "qq"]);
    expect(await json(["queues", "get", "qq"])).toMatchObject({ name: "qq", paused: false, counts: { pending: "1", total: "1" } });
    expect(await json(["queues", "pause", "qq"])).toMatchObject({ name: "qq", paused: true });
    expect(await json(["queues", "resume", "qq"])).toMatchObject({ name: "qq", paused: false });
    expect((await json(["queues", "list"])).map((q: any) => q.name)).toContain("qq");

    const file = join(home, "apply.yaml");
    writeFileSync(file, "queues:\n  cfg-a:\n    priority: 5\n    mode: one_shot\n    default_timeout_secs: 60\n    max_retry: 2\n    concurrency: 4\n  cfg-b: {}\n");
    const applied = await json(["queues", "configs", "apply", "-f", file]);
    expect(applied.map((c: any) => [c.name, c.priority, c.mode, c.default_timeout ?? null, c.default_max_attempts, c.concurrency_limit, c.source])).toEqual([
      ["cfg-a", 5, "QUEUE_MODE_ONE_SHOT", "60s", 3, 4, "api"],
      ["cfg-b", 0, "QUEUE_MODE_UNSPECIFIED", null, 0, 0, "api"],
    ]);
    writeFileSync(file, "queues:\n  cfg-a:\n    priority: 9\n");
    expect((await json(["queues", "configs", "apply", "-f", file]))[0]).toMatchObject({ name: "cfg-a", priority: 9 }); // replaced
    expect((await json(["queues", "configs", "list"])).map((c: any) => c.name).sort()).toEqual(["cfg-a", "cfg-b", "from-file"]);
    expect(await json(["queues", "configs", "get", "from-file"])).toMatchObject({ name: "from-file", priority: 3, default_max_attempts: 4, source: "yaml" });
    expect(await json(["queues", "configs", "delete", "cfg-b"])).toMatchObject({ name: "cfg-b" });
    expect((await cli(["queues", "configs", "get", "cfg-b"])).code).toBe(3);
    expect(await json(["queues", "configs", "reload"])).toMatchObject({ added: [], removed: [] });
    writeFileSync(file, "queues: [1, 2]\n");
    const bad = await cli(["queues", "configs", "apply", "-f", file]);
    expect({ code: bad.code, err: bad.stderr.includes("queues:") }).toEqual({ code: 2, err: true });
  }, 40_000);

  it("lists, gets and releases file leases (JSON)", async () => {
    const leases = clientFor(LeaseService, server.url, "grpc");
    await leases.acquireLease({ path: "repo/a.txt", holder: "agent-1", ttl: { seconds: 60n, nanos: 0 } } as never);
    await leases.acquireLease({ path: "repo/b.txt", holder: "agent-2", ttl: { seconds: 60n, nanos: 0 } } as never);
    const listed = await json(["leases", "list", "--prefix", "repo/"]);
    expect(listed.map((l: any) => [l.path, l.holder])).toEqual([
      ["repo/a.txt", "agent-1"],
      ["repo/b.txt", "agent-2"],
    ]);
    expect((await json(["leases", "list", "--holder", "agent-2"])).map((l: any) => l.path)).toEqual(["repo/b.txt"]);
    expect(await json(["leases", "get", "repo/a.txt"])).toMatchObject({ path: "repo/a.txt", holder: "agent-1" });
    expect(await json(["leases", "release", "repo/a.txt"])).toMatchObject({ path: "repo/a.txt" });
    expect((await cli(["leases", "get", "repo/a.txt"])).code).toBe(3);
    const stale = await cli(["leases", "release", "repo/b.txt", "--fencing-token", "999"]);
    expect(stale.code).toBe(4);
  }, 30_000);

  it("publishes mail and tails a topic with replay, a count and a time limit", async () => {
    const m1 = await json(["mail", "publish", "cli-topic", '{"hello":1}', "-H", "k=v", "--sender", "me"]);
    expect(m1).toMatchObject({ topic: "cli-topic", payload: { hello: 1 }, headers: { k: "v" }, sender: "me", duplicate: false });
    const m2 = await json(["mail", "publish", "cli-topic", "plain text"]);
    expect(m2).toMatchObject({ payload: "plain text", sender: "switchyard-cli" });
    const tail = await cli(["-o", "json", "mail", "tail", "cli-topic", "--from", "1", "--count", "2", "--for", "10s"]);
    expect(tail.code).toBe(0);
    expect(lines(tail.stdout).map((l) => JSON.parse(l).payload)).toEqual([{ hello: 1 }, "plain text"]);
    const table = await cli(["mail", "tail", "cli-topic", "--from", "1", "--for", "700ms", "--width", "120"]);
    expect(table.code).toBe(0);
    const rows = lines(table.stdout);
    expect(rows[0]).toMatch(/^SEQ +TIME +TOPIC +SENDER +PAYLOAD$/);
    expect(rows.slice(1).map((r) => r.split(/\s{2,}/).slice(2))).toEqual([
      ["cli-topic", "me", '{"hello":1}'],
      ["cli-topic", "switchyard-cli", "plain text"],
    ]);
    expect((await cli(["mail", "publish"])).code).toBe(2);
    // `mail publish --agent ID [PAYLOAD]` (the README's form): the one argument is the payload.
    const inbox = await json(["mail", "publish", "--agent", "cli-agent", '{"hi":1}']);
    expect(inbox).toMatchObject({ topic: "inbox.cli-agent", payload: { hi: 1 } });
    expect((await cli(["mail", "publish", "--agent", "cli-agent", "some.topic", "{}"])).code).toBe(2);
  }, 30_000);

  it("lists and gets workers and servers, sets maintenance (checked over gRPC), the load balancer (JSON, a table)", async () => {
    const servers = clientFor(ServerService, server.url, "grpc");
    const w = (await servers.registerServer({ server: { name: "cli-worker-1", kind: ServerKind.WORKER, maxConcurrent: 4 } } as never)).server!;
    const workers = await json(["workers", "list"]);
    expect(workers.map((s: any) => [s.name, s.kind])).toContainEqual(["cli-worker-1", "SERVER_KIND_WORKER"]);
    expect(await json(["workers", "get", w.id])).toMatchObject({ id: w.id, name: "cli-worker-1", max_concurrent: 4 });
    expect((await json(["servers", "list"])).map((s: any) => s.id)).toContain(w.id);
    expect(await json(["servers", "get", w.id])).toMatchObject({ id: w.id });
    expect(await json(["servers", "maintenance", w.id, "--on", "--reason", "patching"])).toMatchObject({ id: w.id, status: "SERVER_STATUS_MAINTENANCE" });
    expect((await servers.getServer({ id: w.id })).server!.status).toBe(3);
    await json(["servers", "maintenance", w.id, "--off"]);
    expect((await servers.getServer({ id: w.id })).server!.status).not.toBe(3);
    expect((await cli(["servers", "maintenance", w.id])).code).toBe(2);
    const table = (await cli(["--width", "60", "workers", "list"])).stdout;
    expect(table.split("\n")[0]).toStartWith("ID");
    for (const line of table.trimEnd().split("\n")) expect(line.length).toBeLessThanOrEqual(60);
    expect(await json(["lb", "status"])).toHaveProperty("algorithm");
    expect(await json(["lb", "algorithm", "least-connections"])).toMatchObject({ algorithm: "LOAD_BALANCER_ALGORITHM_LEAST_CONNECTIONS" });
    expect((await json(["lb", "status"])).algorithm).toBe("LOAD_BALANCER_ALGORITHM_LEAST_CONNECTIONS");
    expect((await cli(["lb", "algorithm", "nope"])).code).toBe(2);
  }, 30_000);

  it("adds and searches memories (JSON)", async () => {
    const added = await json(["memory", "add", "the build uses bun and drizzle", "--type", "fact", "--agent", "cli-agent", "--importance", "0.7", "--tag", "build"]);
    expect(added.memory).toMatchObject({ content: "the build uses bun and drizzle", type: "fact", agent_id: "cli-agent", importance: 0.7, tags: ["build"] });
    const found = await json(["memory", "search", "drizzle", "--agent", "cli-agent"]);
    expect(found.map((r: any) => r.memory.id)).toContain(added.memory.id);
    expect((await cli(["memory", "search", "x", "--mode", "nope"])).code).toBe(2);
  }, 30_000);

  it("lists and gets projects, lists snapshots and drift reports (JSON)", async () => {
    const rest = async (method: string, path: string, body?: unknown) => (await fetch(server.url + path, { method, headers: { "content-type": "application/json" }, body: body === undefined ? undefined : JSON.stringify(body) })).json() as any;
    const project = (await rest("POST", "/v1/projects", { name: "cli-project" })).project;
    const ws = (await rest("POST", `/v1/projects/${project.id}/workspaces`, { name: "main" })).workspace;
    expect((await json(["workspaces", "projects", "list"])).map((p: any) => p.id)).toContain(project.id);
    expect((await json(["workspaces", "projects"])).map((p: any) => p.id)).toContain(project.id);
    expect((await json(["workspaces", "projects", "get", project.id])).project).toMatchObject({ id: project.id, name: "cli-project" });
    // A snapshot (its manifest stored first) and a drift report, then the CLI lists them.
    const manifest = new TextEncoder().encode(JSON.stringify({ version: "1", files: [] }));
    const hash = new Bun.CryptoHasher("sha256").update(manifest).digest("hex");
    await fetch(`${server.url}/v1/blobs/manifests/${hash}`, { method: "PUT", body: manifest });
    await rest("POST", `/v1/projects/${project.id}/snapshots`, { manifest_hash: hash, snapshot_id: "cli-s1", workspace_id: ws.id });
    await rest("POST", `/v1/workspaces/${ws.id}/drift`, { files_added: 2, files_modified: 1, files_deleted: 0, bytes_changed: 40 });
    const snapshots = await json(["workspaces", "snapshots", project.id]);
    expect(snapshots.map((x: any) => x.id)).toEqual(["cli-s1"]);
    const drift = await json(["workspaces", "drift", ws.id]);
    expect(drift).toHaveLength(1);
    expect(drift[0]).toMatchObject({ files_added: 2, files_modified: 1 });
  }, 30_000);

  it("shows health and info (JSON and table)", async () => {
    const health = await json(["health"]);
    expect(health.status).toBe("HEALTH_STATUS_HEALTHY");
    expect(health.components.map((c: any) => c.name)).toContain("database");
    const info = await json(["info"]);
    expect(info).toMatchObject({ environment: "development", auth_required: false, engines: { database: "sqlite" } });
    // The same over the Connect protocol (HTTP/1.1) instead of gRPC.
    expect(await json(["--protocol", "connect", "info"])).toMatchObject({ environment: "development" });
    expect((await cli(["--protocol", "connect", "tasks", "get", "missing"])).code).toBe(3);
    const table = await cli(["info", "--width", "100"]);
    expect(lines(table.stdout)[0]).toMatch(/^KEY +VALUE$/);
    expect(table.stdout).toMatch(new RegExp(`server +${server.url.replace(/[.]/g, "\\.")}`));
  }, 20_000);

  it("exits with codes scripts can use", async () => {
    const unreachable = `http://127.0.0.1:${await freePort()}`;
    const cases: [string[], number, string?][] = [
      [["tasks", "get", "missing"], 3],
      [["no-such-command"], 2],
      [["-o", "xml", "info"], 2],
      [["tasks", "create"], 2], // --queue is required
      [["tasks", "create", "-q", "x", "-p", "{not json"], 2],
      [["tasks", "create", "-q", "bad queue name!"], 2], // server-side invalid_argument
      [["tasks", "list", "--state", "nope"], 2],
      [["tasks"], 2], // a group without its subcommand
      [["--help"], 0],
      [["--version"], 0],
      [["info"], 6, unreachable],
    ];
    const results = await Promise.all(cases.map(async ([args, , url]) => (await cli(args, { url })).code));
    expect(results).toEqual(cases.map(([, code]) => code));
    // The process exits with them (main.ts).
    const spawned = await Promise.all([spawnCli(["tasks", "get", "missing"]), spawnCli(["no-such-command"]), spawnCli(["-o", "json", "info"])]);
    expect(spawned.map((r) => r.code)).toEqual([3, 2, 0]);
    expect(spawned[0]!.stderr).toBe("switchyard: not_found TASK_NOT_FOUND: task not found: missing\n");
    expect(JSON.parse(spawned[2]!.stdout).environment).toBe("development");
    const stdin = await spawnCli(["-o", "json", "tasks", "create", "-q", "spawned", "-p", "-"], { stdin: '{"from":"stdin"}' });
    expect(JSON.parse(stdin.stdout).payload).toEqual({ from: "stdin" });
  }, 30_000);

  it("takes the token from --token, SWITCHYARD_API_TOKEN or the config file written by login", async () => {
    const url = secured.url;
    const none = await cli(["tasks", "list"], { url });
    expect(none.code).toBe(5);
    expect((await cli(["--token", TOKEN, "-o", "json", "tasks", "list"], { url })).code).toBe(0);
    expect((await cli(["-o", "json", "tasks", "list"], { url, env: { SWITCHYARD_API_TOKEN: TOKEN } })).code).toBe(0);
    const wrong = await cli(["--token", "wrong-token-0123456789", "login"], { url });
    expect(wrong.code).toBe(5);
    expect(existsSync(join(home, "config.json"))).toBe(false);
    const login = await json(["--token", "-", "login"], { url, stdin: TOKEN + "\n" });
    expect(login).toMatchObject({ server: url, logged_in: true });
    const stored = JSON.parse(readFileSync(join(home, "config.json"), "utf8"));
    expect(stored).toEqual({ server: url, token: TOKEN });
    expect(statSync(join(home, "config.json")).mode & 0o777).toBe(0o600);
    expect((await cli(["-o", "json", "tasks", "list"], { url })).code).toBe(0);
    // The stored server is used when none is given.
    let out = "";
    await run(["-o", "json", "info"], { stdout: (t) => void (out += t), stderr: () => {}, stdin: async () => "", env: baseEnv(), isTTY: false });
    expect(JSON.parse(out).auth_required).toBe(true);
    // Without --token, login runs the device flow: it shows a code, a signed-in person approves it
    // (here a user's JWT on the verification endpoint), and the CLI stores the session it gets.
    let flowOut = "";
    let flowErr = "";
    const flow = run(["--server", url, "-o", "json", "login"], { stdout: (t) => void (flowOut += t), stderr: (t) => void (flowErr += t), stdin: async () => "", env: baseEnv(), isTTY: false });
    const deadline = Date.now() + 10_000;
    while (!/enter the code (\S+)/.test(flowErr) && Date.now() < deadline) await Bun.sleep(50);
    const userCode = /enter the code (\S+)/.exec(flowErr)![1]!;
    const alice = await new SignJWT({ roles: ["user"] }).setProtectedHeader({ alg: "HS256" }).setSubject("alice").setExpirationTime("5m").sign(new TextEncoder().encode(JWT_SECRET));
    const approved = await fetch(`${url}/v1/oauth/device/authorize`, { method: "POST", headers: { authorization: `Bearer ${alice}`, "content-type": "application/json" }, body: JSON.stringify({ user_code: userCode }) });
    expect(approved.status).toBe(200);
    expect(await flow).toBe(0);
    expect(JSON.parse(flowOut)).toMatchObject({ server: url, logged_in: true });
    const session = JSON.parse(readFileSync(join(home, "config.json"), "utf8")).token as string;
    expect(session).not.toBe(TOKEN);
    expect((await cli(["-o", "json", "tasks", "list"], { url })).code).toBe(0);
    expect(await json(["logout"], { url })).toMatchObject({ removed: true });
    expect((await cli(["tasks", "list"], { url })).code).toBe(5);
  }, 40_000);

  it("has --help on every command and a completion script for bash, zsh and fish", async () => {
    const all: Command[] = [];
    const walk = (c: Command) => {
      all.push(c);
      c.commands.forEach(walk);
    };
    walk(createProgram());
    expect(all.length).toBeGreaterThan(25);
    for (const c of all) {
      expect({ name: c.name(), described: c.description().length > 0 }).toEqual({ name: c.name(), described: true });
      expect(c.helpInformation()).toContain("-h, --help");
    }
    const help = await spawnCli(["queues", "configs", "apply", "--help"]);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain("Usage: switchyard queues configs apply [options]");

    const bash = await cli(["completion", "bash"]);
    expect(bash.stdout).toContain("complete -F _switchyard switchyard");
    const complete = (words: string) =>
      Bun.spawnSync(["bash", "-c", `source /dev/stdin; COMP_WORDS=(${words}); COMP_CWORD=$((\${#COMP_WORDS[@]}-1)); _switchyard; echo "\${COMPREPLY[@]}"`], { stdin: new Blob([bash.stdout]) })
        .stdout.toString()
        .trim();
    expect(complete("switchyard ta").split(" ")).toEqual(["tasks"]);
    expect(complete("switchyard tasks c").split(" ").sort()).toEqual(["cancel", "create"]);
    expect(complete("switchyard queues configs a")).toBe("apply");
    expect(complete("switchyard tasks create --q")).toBe("--queue");
    expect((await cli(["completion", "zsh"])).stdout).toContain("bashcompinit");
    expect((await cli(["completion", "fish"])).stdout).toContain("complete -c switchyard -n '__fish_seen_subcommand_from tasks' -a create");
    expect((await cli(["completion", "tcsh"])).code).toBe(2);
  }, 30_000);

  it("is put on the PATH by scripts/install-cli.sh", async () => {
    const bin = join(home, "bin");
    const install = Bun.spawnSync(["bash", join(repoRoot, "scripts/install-cli.sh"), bin], { stderr: "pipe" });
    expect(install.exitCode, install.stderr.toString()).toBe(0);
    const proc = Bun.spawn(["switchyard", "--server", server.url, "-o", "json", "info"], { env: { ...process.env, PATH: `${bin}:${process.env.PATH}` }, stdout: "pipe" });
    expect(JSON.parse(await new Response(proc.stdout).text()).environment).toBe("development");
    expect(await proc.exited).toBe(0);
  }, 30_000);

  it("builds into one executable with bun build --compile", async () => {
    const out = join(home, "switchyard-bin");
    const build = Bun.spawnSync(["bun", "build", "--compile", main, "--outfile", out], { cwd: repoRoot, stdout: "pipe", stderr: "pipe" });
    expect(build.exitCode, build.stderr.toString()).toBe(0);
    const proc = Bun.spawn([out, "--server", server.url, "-o", "json", "info"], { stdout: "pipe" });
    expect(JSON.parse(await new Response(proc.stdout).text()).environment).toBe("development");
    expect(await proc.exited).toBe(0);
    rmSync(out, { force: true });
  }, 60_000);
});
