// Seed 000 (Jetpack worker API) mail routes on a real server: shapes, errors, auth.
import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import { connect } from "node:net";
import { startTestServer, type TestServer } from "../../src/testing/server.ts";

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(() => server.close());

async function call(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<[number, any]> {
  const r = await fetch(`${server.url}${path}`, { method, headers: { "content-type": "application/json", ...headers }, body: body === undefined ? undefined : JSON.stringify(body) });
  return [r.status, await r.json()];
}

/** Sends a raw WebSocket upgrade request and returns the HTTP status line's code and the body. */
function upgrade(port: number, path: string, headers: Record<string, string> = {}): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const socket = connect({ port, host: "127.0.0.1" }, () => {
      const extra = Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`).join("");
      socket.write(
        `GET ${path} HTTP/1.1\r\nhost: 127.0.0.1\r\nconnection: Upgrade\r\nupgrade: websocket\r\nsec-websocket-version: 13\r\nsec-websocket-key: dGhlIHNhbXBsZSBub25jZQ==\r\n${extra}\r\n`,
      );
    });
    let text = "";
    const done = () => {
      socket.destroy();
      const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1] ?? 0);
      resolve({ status, body: text.split("\r\n\r\n").slice(1).join("\r\n\r\n") });
    };
    socket.on("data", (d) => {
      text += d.toString();
      if (text.startsWith("HTTP/1.1 101")) done();
    });
    socket.on("end", done);
    socket.on("error", reject);
  });
}

describe("POST /api/mail/publish", () => {
  it("answers { published: true } and stores a broadcast on broadcast.<type> with the Jetpack id", async () => {
    expect(await call("POST", "/api/mail/publish", { id: "m-1", type: "agent.started", from: "a1", payload: { x: 1 } })).toEqual([200, { published: true }]);
    const [, page] = await call("GET", "/v1/messages?topic=broadcast.agent.started");
    expect(page.messages.at(-1)).toMatchObject({ topic: "broadcast.agent.started", sender: "a1", payload: { x: 1 }, headers: { type: "agent.started", "jetpack-id": "m-1" } });
  });

  it("sends a message with `to` to that agent's inbox", async () => {
    expect(await call("POST", "/api/mail/publish", { type: "direct", from: "a1", to: "a2", payload: "hello" })).toEqual([200, { published: true }]);
    const [, page] = await call("GET", "/v1/messages?topic=inbox.a2");
    expect(page.messages.at(-1)).toMatchObject({ topic: "inbox.a2", sender: "a1", payload: "hello" });
  });

  it("stores a retried message id once", async () => {
    for (let i = 0; i < 2; i++) await call("POST", "/api/mail/publish", { id: "dup-1", type: "dup.check", from: "a1" });
    const [, page] = await call("GET", "/v1/messages?topic=broadcast.dup.check");
    expect(page.messages.length).toBe(1);
  });

  const bad: { name: string; body: unknown; error: RegExp }[] = [
    { name: "no from", body: { type: "x" }, error: /^from: is required/ },
    { name: "neither to nor type", body: { from: "a" }, error: /^type: is required/ },
    { name: "a bad type", body: { from: "a", type: "has space" }, error: /^type: / },
    { name: "a bad to", body: { from: "a", to: "no/slash" }, error: /^to: / },
    { name: "a non-string from", body: { from: 5, type: "x" }, error: /^from: / },
    { name: "a body that is not an object", body: [1, 2], error: /JSON object/ },
  ];
  for (const c of bad) {
    it(`refuses ${c.name} with 400 { error }`, async () => {
      const [status, body] = await call("POST", "/api/mail/publish", c.body);
      expect(status).toBe(400);
      expect(Object.keys(body)).toEqual(["error"]);
      expect(body.error).toMatch(c.error);
    });
  }
});

describe("file leases", () => {
  it("acquires, refuses a second agent with 409, reports status, and releases", async () => {
    const [s1, got] = await call("POST", "/api/mail/lease", { file: "./pkg//index.ts", agentId: "a1", ttlMs: 30_000 });
    expect(s1).toBe(200);
    expect(got).toMatchObject({ acquired: true, file: "pkg/index.ts", agentId: "a1" });
    expect(got.fencingToken).toBeGreaterThan(0);
    expect(got.expiresAt).toBeGreaterThan(Date.now() + 25_000);

    expect(await call("POST", "/api/mail/lease", { file: "pkg/index.ts", agentId: "a2", ttlMs: 30_000 })).toEqual([
      409,
      { acquired: false, file: "pkg/index.ts", holder: "a1", expiresAt: got.expiresAt },
    ]);
    expect(await call("GET", "/api/mail/lease?file=pkg/index.ts")).toEqual([
      200,
      { file: "pkg/index.ts", isLeased: true, agentId: "a1", expiresAt: got.expiresAt, fencingToken: got.fencingToken },
    ]);
    // A prefix of a leased path is not leased itself.
    expect(await call("GET", "/api/mail/lease?file=pkg/index")).toEqual([200, { file: "pkg/index", isLeased: false }]);

    // Another agent's release leaves the lease alone (and answers like Jetpack does).
    expect(await call("DELETE", "/api/mail/lease", { file: "pkg/index.ts", agentId: "a2" })).toEqual([200, { released: true }]);
    expect((await call("GET", "/api/mail/lease?file=pkg/index.ts"))[1].isLeased).toBe(true);
    expect(await call("DELETE", "/api/mail/lease", { file: "pkg/index.ts", agentId: "a1" })).toEqual([200, { released: true }]);
    expect(await call("GET", "/api/mail/lease?file=pkg/index.ts")).toEqual([200, { file: "pkg/index.ts", isLeased: false }]);
    const [s2, again] = await call("POST", "/api/mail/lease", { file: "pkg/index.ts", agentId: "a2", ttlMs: 5_000 });
    expect(s2).toBe(200);
    expect(again.fencingToken).toBeGreaterThan(got.fencingToken);
  });

  const bad: { name: string; method: string; path: string; body?: unknown; error: string | RegExp }[] = [
    { name: "acquire without ttlMs", method: "POST", path: "/api/mail/lease", body: { file: "f", agentId: "a" }, error: "file, agentId, and ttlMs are required" },
    { name: "acquire without file", method: "POST", path: "/api/mail/lease", body: { agentId: "a", ttlMs: 5000 }, error: "file, agentId, and ttlMs are required" },
    { name: "acquire without a body", method: "POST", path: "/api/mail/lease", error: "file, agentId, and ttlMs are required" },
    { name: "acquire with a ttl under 1 s", method: "POST", path: "/api/mail/lease", body: { file: "f", agentId: "a", ttlMs: 10 }, error: /^ttlMs: / },
    { name: "acquire with a string ttl", method: "POST", path: "/api/mail/lease", body: { file: "f", agentId: "a", ttlMs: "5000" }, error: /^ttlMs: / },
    { name: "acquire of a '..' path", method: "POST", path: "/api/mail/lease", body: { file: "../etc/passwd", agentId: "a", ttlMs: 5000 }, error: /^file: .*'\.\.'/ },
    { name: "release without agentId", method: "DELETE", path: "/api/mail/lease", body: { file: "f" }, error: "file and agentId are required" },
    { name: "release of a NUL path", method: "DELETE", path: "/api/mail/lease", body: { file: "a\u0000b", agentId: "a" }, error: /^file: / },
    { name: "status without file", method: "GET", path: "/api/mail/lease", error: "file is required" },
    { name: "status of a '..' path", method: "GET", path: "/api/mail/lease?file=a/../b", error: /^file: / },
  ];
  for (const c of bad) {
    it(`refuses ${c.name} with 400 { error }`, async () => {
      const [status, body] = await call(c.method, c.path, c.body);
      expect(status).toBe(400);
      expect(Object.keys(body)).toEqual(["error"]);
      if (typeof c.error === "string") expect(body.error).toBe(c.error);
      else expect(body.error).toMatch(c.error);
    });
  }
});

describe("GET /api/mail/subscribe", () => {
  it("refuses an upgrade without agentId with 400 { error: 'agentId is required' }", async () => {
    const r = await upgrade(server.port, "/api/mail/subscribe");
    expect(r.status).toBe(400);
    expect(JSON.parse(r.body)).toEqual({ error: "agentId is required" });
  });

  it("refuses a bad agentId or cursor with 400", async () => {
    expect((await upgrade(server.port, "/api/mail/subscribe?agentId=a%20b")).status).toBe(400);
    expect((await upgrade(server.port, "/api/mail/subscribe?agentId=a&cursor=x")).status).toBe(400);
  });

  it("upgrades with agentId", async () => {
    expect((await upgrade(server.port, "/api/mail/subscribe?agentId=a")).status).toBe(101);
  });
});

describe("with SWITCHYARD_API_TOKEN set", () => {
  const TOKEN = "mail-token-0123456789abcdef";
  let secured: TestServer;
  beforeAll(async () => {
    secured = await startTestServer({ SWITCHYARD_API_TOKEN: TOKEN });
  });
  afterAll(() => secured.close());

  it("refuses the WebSocket without or with a wrong token (401 before the upgrade) and accepts the right one", async () => {
    const path = "/api/mail/subscribe?agentId=a";
    const none = await upgrade(secured.port, path);
    expect(none.status).toBe(401);
    expect(JSON.parse(none.body)).toEqual({ error: "Unauthorized" });
    expect((await upgrade(secured.port, path, { authorization: "Bearer wrong-token-0123456789" })).status).toBe(401);
    expect((await upgrade(secured.port, `${path}&token=wrong-token-0123456789`)).status).toBe(401);
    expect((await upgrade(secured.port, path, { authorization: `Bearer ${TOKEN}` })).status).toBe(101);
    expect((await upgrade(secured.port, `${path}&token=${TOKEN}`)).status).toBe(101);
  });

  it("refuses the REST-style legacy routes without the token with 401 { error: 'Unauthorized' }", async () => {
    const r = await fetch(`${secured.url}/api/mail/lease?file=x`);
    expect(r.status).toBe(401);
    expect(await r.json()).toEqual({ error: "Unauthorized" });
    const ok = await fetch(`${secured.url}/api/mail/lease?file=x`, { headers: { authorization: `Bearer ${TOKEN}` } });
    expect(await ok.json()).toEqual({ file: "x", isLeased: false });
  });
});
