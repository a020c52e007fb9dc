// The auth corpus: missing, malformed, expired, not-yet-valid, wrong signature, wrong issuer
// and audience, `alg: none`, HS/RS confusion and a revoked session are refused on every
// protocol with each family's body; RS256, ES256, EdDSA, static tokens and sessions are
// accepted. Then seed 001's flow (HS256 with roles) against the admin policy, and the OpenAPI
// document's security, both from the same declarations.
import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import { createServer, type Server } from "node:http";
import { exportSPKI } from "jose";
import { AuthService } from "../../gen/switchyard/auth/v1/auth_service_pb.js";
import { ServerService } from "../../gen/switchyard/servers/v1/servers_service_pb.js";
import { SystemService } from "../../gen/switchyard/system/v1/system_service_pb.js";
import { createRequestHandler } from "../../src/server/http.ts";
import { createPrincipalResolver } from "../../src/server/interceptors/auth.ts";
import { createLegacyRouter, route } from "../../src/server/legacy/table.ts";
import { taskProcessingError } from "../../src/server/legacy/task-processing.ts";
import { createRestRouter } from "../../src/server/rest/routes.ts";
import { makeKey, nowS, signHs256, signWith, startJwksServer, unsignedToken, type TestKey } from "../../src/testing/jwt.ts";
import { startTestServer, type TestServer } from "../../src/testing/server.ts";
import { ALL_PROTOCOLS, caller, outcome } from "./helpers/identity-api.ts";

const ISS = "https://issuer.test";
const AUD = "switchyard";
const STATIC = "static-token-0123456789abcdef";
let jwks: { url: string; stop(): void };
let rs: TestKey;
let es: TestKey;
let ed: TestKey;
let impostor: TestKey;
let server: TestServer;
const good = (extra: Record<string, unknown> = {}) => ({ iss: ISS, aud: AUD, sub: "carol", tenant: "acme", roles: ["user"], exp: nowS() + 600, ...extra });

beforeAll(async () => {
  [rs, es, ed] = await Promise.all([makeKey("RS256", "rs-1"), makeKey("ES256", "es-1"), makeKey("EdDSA", "ed-1")]);
  impostor = await makeKey("RS256", "rs-1"); // same kid, other key: a forged signature
  jwks = startJwksServer({ "/jwks.json": [rs, es, ed] });
  server = await startTestServer({
    SWITCHYARD_API_TOKEN: STATIC,
    SWITCHYARD_JWKS_URL: `${jwks.url}/jwks.json`,
    SWITCHYARD_JWT_ISSUER: ISS,
    SWITCHYARD_JWT_AUDIENCE: AUD,
    SWITCHYARD_JWT_CLOCK_SKEW_S: "5",
  });
});
afterAll(async () => {
  await server.close();
  jwks.stop();
});

/** Every credential that must be refused, by name. */
async function refusedCorpus(): Promise<Record<string, string | undefined>> {
  const rsPem = await exportSPKI(rs.publicJwk as never).catch(() => "");
  return {
    missing: undefined,
    "not a JWT": "Bearer definitely-not-a-token",
    "malformed JWT": "Bearer eyJhbGciOiJSUzI1NiJ9.bm9wZQ.c2ln",
    "Basic scheme": `Basic ${STATIC}`,
    expired: `Bearer ${await signWith(rs, good({ exp: nowS() - 3600 }))}`,
    "not yet valid": `Bearer ${await signWith(rs, good({ nbf: nowS() + 3600 }))}`,
    "wrong signature": `Bearer ${await signWith(impostor, good())}`,
    "wrong issuer": `Bearer ${await signWith(rs, good({ iss: "https://evil.test" }))}`,
    "wrong audience": `Bearer ${await signWith(rs, good({ aud: "someone-else" }))}`,
    "alg none": `Bearer ${unsignedToken(good())}`,
    // RFC 8725 §2.1: an HS256 token "signed" with the RSA public key as the HMAC secret.
    "HS/RS confusion": `Bearer ${await signHs256(rsPem || JSON.stringify(rs.publicJwk), good())}`,
    "roles not a list": `Bearer ${await signWith(rs, good({ roles: "admin" }))}`,
  };
}

describe("the auth corpus", () => {
  let corpus: Record<string, string | undefined>;
  beforeAll(async () => {
    corpus = await refusedCorpus();
  });

  for (const protocol of ALL_PROTOCOLS) {
    it(`refuses every bad credential over ${protocol} with unauthenticated`, async () => {
      for (const [name, header] of Object.entries(corpus)) {
        const token = header?.replace(/^Bearer /, "");
        const r =
          protocol === "rest"
            ? await fetch(`${server.url}/v1/system/info`, { headers: header ? { authorization: header } : {} }).then(async (res) => ({ status: res.status, body: (await res.json()) as any }))
            : await outcome(caller(server.url, protocol, header?.startsWith("Bearer ") ? token : undefined)(SystemService, "getInfo"));
        if (protocol === "rest") {
          const rr = r as { status: number; body: any };
          expect({ name, status: rr.status, reason: rr.body.error?.reason }).toEqual({ name, status: 401, reason: "UNAUTHENTICATED" });
        } else if (header === undefined || header.startsWith("Bearer ")) {
          expect({ name, code: r === "ok" ? "ok" : (r as any).code }).toEqual({ name, code: "unauthenticated" });
        }
      }
    });
  }

  it("answers public RPCs with no token, and with a bad one, on every protocol", async () => {
    for (const protocol of ALL_PROTOCOLS) {
      for (const token of [undefined, "stale-token-0123456789"]) {
        const call = caller(server.url, protocol, token);
        expect({ protocol, token, r: await outcome(call(SystemService, "getHealth")) }).toEqual({ protocol, token, r: "ok" });
        const d = await call(AuthService, "startDeviceAuthorization");
        expect(d.user_code).toMatch(/^[A-Z]{4}-[A-Z]{4}$/);
        const poll = await outcome(call(AuthService, "exchangeDeviceCode", { grant_type: "urn:ietf:params:oauth:grant-type:device_code", device_code: d.device_code }));
        expect({ protocol, reason: poll === "ok" ? "ok" : poll.reason }).toEqual({ protocol, reason: "AUTHORIZATION_PENDING" });
      }
    }
  });

  it("says why in metadata.cause (missing, invalid, expired)", async () => {
    const body = async (h?: string) => ((await (await fetch(`${server.url}/v1/system/info`, { headers: h ? { authorization: h } : {} })).json()) as any).error.metadata.cause;
    expect(await body()).toBe("TOKEN_MISSING");
    expect(await body(corpus["wrong signature"])).toBe("TOKEN_INVALID");
    expect(await body(corpus.expired)).toBe("TOKEN_EXPIRED");
  });

  it("refuses them on legacy routes with each family's body", async () => {
    const families: [string, number, unknown][] = [
      ["/api/task/t1", 401, { error: "Unauthorized", details: "Invalid or expired token" }], // seed 001
      ["/api/tasks", 401, { error: "Unauthorized" }], // seed 000
      ["/api/cli/queues", 401, { errors: ["unauthorized: missing or invalid bearer token"] }], // seed 003
      ["/metrics", 401, { error: "UNAUTHORIZED" }], // seed 004
    ];
    for (const [path, status, body] of families) {
      for (const [name, header] of Object.entries(corpus)) {
        const res = await fetch(server.url + path, { headers: header ? { authorization: header } : {} });
        expect({ path, name, status: res.status, body: await res.json() }).toMatchObject({ path, name, status, body: body as object });
      }
    }
    // Health stays open, even with a bad token.
    expect((await fetch(`${server.url}/health`, { headers: { authorization: corpus.expired! } })).status).toBe(200);
  });

  it("accepts RS256, ES256 and EdDSA tokens from the JWKS, and the static token, on every protocol", async () => {
    const tokens = [await signWith(rs, good()), await signWith(es, good()), await signWith(ed, good()), STATIC];
    for (const protocol of ALL_PROTOCOLS) {
      for (const t of tokens) expect(await outcome(caller(server.url, protocol, t)(SystemService, "getInfo"))).toBe("ok");
    }
    // Within the configured clock skew (5 s) a just-expired token still passes.
    expect(await outcome(caller(server.url, "connect", await signWith(rs, good({ exp: nowS() - 2 })))(SystemService, "getInfo"))).toBe("ok");
  });

  it("accepts a session until it is revoked, then refuses it on every protocol", async () => {
    const carol = caller(server.url, "rest", await signWith(rs, good()));
    const rest = caller(server.url, "rest");
    const start = await rest(AuthService, "startDeviceAuthorization");
    await carol(AuthService, "authorizeDevice", { user_code: start.user_code });
    const token = (await rest(AuthService, "exchangeDeviceCode", { grant_type: "urn:ietf:params:oauth:grant-type:device_code", device_code: start.device_code })).access_token;
    for (const protocol of ALL_PROTOCOLS) expect(await outcome(caller(server.url, protocol, token)(SystemService, "getInfo"))).toBe("ok");
    const session = caller(server.url, "connect", token);
    const listed = await session(AuthService, "listSessions");
    expect(listed.sessions.length).toBe(1);
    expect(listed.sessions[0]).toMatchObject({ user_id: "carol", method: "device" });
    expect(JSON.stringify(listed)).not.toContain(token);
    await session(AuthService, "revokeSession", { id: listed.sessions[0].id });
    for (const protocol of ALL_PROTOCOLS) {
      const r = await outcome(caller(server.url, protocol, token)(SystemService, "getInfo"));
      expect({ protocol, code: r === "ok" ? "ok" : r.code }).toEqual({ protocol, code: "unauthenticated" });
    }
    // Stored only as a hash: the token appears nowhere in the database file.
    const db = await Bun.file(server.config.databasePath).arrayBuffer();
    expect(Buffer.from(db).includes(Buffer.from(token))).toBe(false);
  });
});

describe("seed 001: HS256 tokens with roles, admin policy", () => {
  const SECRET = "seed-001-jwt-secret-0123456789";
  let s: TestServer;
  let legacy: Server;
  let legacyUrl: string;
  let admin: string;
  let user: string;
  let expired: string;

  beforeAll(async () => {
    s = await startTestServer({ SWITCHYARD_JWT_SECRET: SECRET });
    // As generate-jwt.js signs them: HS256, { userId, roles }, expiring in 24 h.
    admin = await signHs256(SECRET, { userId: "admin-1", roles: ["admin"], exp: nowS() + 86_400 });
    user = await signHs256(SECRET, { userId: "user-1", roles: ["user"], exp: nowS() + 86_400 });
    expired = await signHs256(SECRET, { userId: "admin-1", roles: ["admin"], exp: nowS() - 60 });
    // A legacy table with a seed 001 server route declared admin, served by this server's RPCs.
    const family = {
      name: "seed-001-servers-under-test",
      error: taskProcessingError,
      routes: [route({ method: "POST", path: "/api/servers", policy: "admin", rpc: ServerService.method.registerServer, response: () => ({ status: 201, body: {} }) })],
    };
    const handler = createRequestHandler({
      docs: undefined,
      auth: createPrincipalResolver({ apiToken: undefined, auth: s.config.auth }),
      upgrades: [],
      handlers: s.app.rpc.handlers,
      rest: createRestRouter(s.app.rpc.methods.values()),
      legacy: createLegacyRouter([family]),
      log: { debug() {}, info() {}, warn() {}, error() {} } as never,
      metrics: s.app.metrics,
      health: s.app.health,
      corsOrigins: [],
      maxMessageBytes: 1 << 20,
      maxBodyBytes: 1 << 20,
    });
    legacy = createServer(handler);
    await new Promise<void>((r) => legacy.listen(0, "127.0.0.1", r));
    legacyUrl = `http://127.0.0.1:${(legacy.address() as { port: number }).port}`;
  });
  afterAll(async () => {
    legacy.close();
    await s.close();
  });

  const post = (token: string | undefined) =>
    fetch(`${legacyUrl}/api/servers`, {
      method: "POST",
      headers: { "content-type": "application/json", ...(token ? { authorization: `Bearer ${token}` } : {}) },
      body: JSON.stringify({ name: "gpu-1" }),
    });

  it("refuses a user token on server routes with the seed's 403 body", async () => {
    const res = await post(user);
    expect(res.status).toBe(403);
    expect(await res.json()).toEqual({ error: "Forbidden", details: "Admin role required" });
  });

  it("refuses an expired or missing token with the seed's 401 body", async () => {
    for (const t of [expired, undefined, "garbage"]) {
      const res = await post(t);
      expect(res.status).toBe(401);
      expect(await res.json()).toEqual({ error: "Unauthorized", details: "Invalid or expired token" });
    }
  });

  it("lets an admin token through the policy", async () => {
    const res = await post(admin);
    expect([401, 403]).not.toContain(res.status);
  });

  it("applies the same rule on the real seed 001 server routes", async () => {
    const body = JSON.stringify({ name: "gpu-real", endpoints: { predict: "https://gpu.example.com/predict" }, maxConcurrent: 2 });
    const as = (token: string | undefined) =>
      fetch(`${s.url}/api/servers`, { method: "POST", headers: { "content-type": "application/json", ...(token ? { authorization: `Bearer ${token}` } : {}) }, body });
    const byUser = await as(user);
    expect(byUser.status).toBe(403);
    expect(await byUser.json()).toEqual({ error: "Forbidden", details: "Admin role required" });
    const unsigned = await as(undefined);
    expect(unsigned.status).toBe(401);
    expect(await unsigned.json()).toEqual({ error: "Unauthorized", details: "Invalid or expired token" });
    const byAdmin = await as(admin);
    expect([401, 403]).not.toContain(byAdmin.status);
    expect(byAdmin.status).toBeLessThan(500);
    const list = await fetch(`${s.url}/api/servers`, { headers: { authorization: `Bearer ${user}` } });
    expect(list.status).toBe(200);
  });

  it("enforces ServerService's admin mutations on every protocol, reads for any user", async () => {
    for (const protocol of ALL_PROTOCOLS) {
      const asUser = await outcome(caller(s.url, protocol, user)(ServerService, "registerServer", { server: { name: "gpu-1" } }));
      expect({ protocol, r: asUser === "ok" ? "ok" : [asUser.code, asUser.reason] }).toEqual({ protocol, r: ["permission_denied", "ADMIN_ROLE_REQUIRED"] });
      // Past the policy, the RPC judges the request itself (here: a server with no kind).
      const asAdmin = await outcome(caller(s.url, protocol, admin)(ServerService, "registerServer", { server: { name: "gpu-1" } }));
      expect({ protocol, r: asAdmin === "ok" ? "ok" : asAdmin.code }).not.toEqual({ protocol, r: "permission_denied" });
      expect({ protocol, r: asAdmin === "ok" ? "ok" : asAdmin.code }).not.toEqual({ protocol, r: "unauthenticated" });
      const read = await outcome(caller(s.url, protocol, user)(ServerService, "listServers"));
      expect({ protocol, r: read === "ok" ? "ok" : read.code }).toEqual({ protocol, r: "ok" });
      const expiredCall = await outcome(caller(s.url, protocol, expired)(SystemService, "getInfo"));
      expect({ protocol, r: expiredCall === "ok" ? "ok" : expiredCall.code }).toEqual({ protocol, r: "unauthenticated" });
    }
  });

  it("refuses RS-signed tokens when only an HS secret is configured", async () => {
    const k = await makeKey("RS256", "k");
    const r = await outcome(caller(s.url, "connect", await signWith(k, { roles: ["admin"], exp: nowS() + 60 }))(SystemService, "getInfo"));
    expect(r === "ok" ? "ok" : r.code).toBe("unauthenticated");
  });
});

describe("OpenAPI security from the policy declarations", () => {
  it("marks public operations open and the others bearer, with the policy named", async () => {
    const doc = (await (await fetch(`${server.url}/openapi.json`, { headers: { authorization: `Bearer ${STATIC}` } })).json()) as any;
    expect(doc.paths["/v1/system/health"].get.security).toEqual([]);
    expect(doc.paths["/v1/oauth/device"].post.security).toEqual([]);
    expect(doc.paths["/v1/oauth/token"].post.security).toEqual([]);
    expect(doc.paths["/v1/auth/google"].post.security).toEqual([]);
    expect(doc.paths["/v1/tasks"].post.security).toEqual([{ bearer: [] }]);
    expect(doc.paths["/v1/tasks"].post["x-switchyard-policy"]).toBe("authenticated");
    expect(doc.paths["/v1/servers"].post["x-switchyard-policy"]).toBe("admin");
  });
});
