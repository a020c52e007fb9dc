// Two Switchyard servers on one PostgreSQL database and one nats-server (issue 17): the device
// flow, sessions and rate limits work whichever instance a request reaches.
import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import { startNatsServer, type NatsServer } from "../../src/testing/nats-server.ts";
import { signHs256 } from "../../src/testing/jwt.ts";
import { freshPostgresUrl } from "../../src/testing/postgres.ts";
import { startTestServer, type TestServer } from "../../src/testing/server.ts";

const JWT_SECRET = "jwt-secret-for-the-instances-test-0123456789";
let nats: NatsServer;
const servers: TestServer[] = [];

beforeAll(async () => {
  nats = await startNatsServer();
  const env = {
    SWITCHYARD_DATABASE_URL: await freshPostgresUrl("auth_e2e"),
    NATS_URL: nats.url,
    SWITCHYARD_JWT_SECRET: JWT_SECRET,
    SWITCHYARD_SECRET_KEY: "cd".repeat(32),
    SWITCHYARD_RATE_LIMITS: "off;api=6/m",
  };
  servers.push(await startTestServer(env), await startTestServer(env));
}, 120_000);
afterAll(async () => {
  for (const s of servers) await s.close().catch(() => {});
  await nats?.stop();
});

const json = async (res: Response) => ({ status: res.status, body: (await res.json()) as Record<string, any>, headers: res.headers });
const post = (i: number, path: string, body: unknown, headers: Record<string, string> = {}) =>
  fetch(`${servers[i]!.url}${path}`, { method: "POST", headers: { "content-type": "application/json", ...headers }, body: JSON.stringify(body) }).then(json);
const get = (i: number, path: string, token: string) => fetch(`${servers[i]!.url}${path}`, { headers: { authorization: `Bearer ${token}` } }).then(json);
const poll = (i: number, deviceCode: string) =>
  fetch(`${servers[i]!.url}/v1/oauth/token`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ grant_type: "urn:ietf:params:oauth:grant-type:device_code", device_code: deviceCode }).toString(),
  }).then(json);

describe("auth and rate limits across two instances on one PostgreSQL", () => {
  it("a device started on one instance is authorized through the other, its session works and is revoked everywhere", async () => {
    const started = await post(0, "/v1/oauth/device", {});
    expect(started.status).toBe(200);
    const person = await signHs256(JWT_SECRET, { sub: "ada", tenant: "acme", roles: ["user"] });
    const authorized = await post(1, "/v1/oauth/device/authorize", { user_code: started.body.user_code }, { authorization: `Bearer ${person}` });
    expect(authorized.status).toBe(200);
    const token = await poll(0, started.body.device_code);
    expect(token.status).toBe(200);
    const session = token.body.access_token as string;
    expect(session).toStartWith("sy_");
    // Used once: the other instance knows it.
    expect((await poll(1, started.body.device_code)).body.error).toBe("invalid_grant");
    // The session resolves on both instances (the person signed in with a JWT, so no user row: me is USER_NOT_FOUND, sessions list).
    const sessions = await get(1, "/v1/auth/sessions", session);
    expect(sessions.status).toBe(200);
    const id = sessions.body.sessions[0].id as string;
    const revoked = await fetch(`${servers[1]!.url}/v1/auth/sessions/${id}`, { method: "DELETE", headers: { authorization: `Bearer ${session}` } });
    expect(revoked.status).toBe(200);
    const after = await get(0, "/v1/auth/sessions", session);
    expect(after.status).toBe(401);
    expect(after.body.error.reason).toBe("UNAUTHENTICATED");
  });

  it("counts one caller's requests on both instances against one limit", async () => {
    const caller = await signHs256(JWT_SECRET, { sub: "grace", tenant: "acme" });
    const statuses: number[] = [];
    for (let i = 0; i < 7; i++) statuses.push((await get(i % 2, "/v1/system/info", caller)).status);
    expect(statuses).toEqual([200, 200, 200, 200, 200, 200, 429]);
    const refused = await get(0, "/v1/system/info", caller);
    expect(refused.status).toBe(429);
    expect(refused.headers.get("x-ratelimit-remaining")).toBe("0");
  });
});
