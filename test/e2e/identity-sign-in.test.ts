// Seed 002's identity end to end on a real server: Google sign-in verified against a local JWKS
// server (keys made by jose), /v1/auth/me, the RFC 8628 device flow driven like a CLI (with
// slow_down and expiry on an injected server clock) and the verification page, then provider
// API keys sealed at rest.
import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import { createManualClock } from "../../src/core/clock.ts";
import { deviceLogin } from "../../src/testing/device-login.ts";
import { makeKey, nowS, signHs256, signWith, startJwksServer, type TestKey } from "../../src/testing/jwt.ts";
import { startTestServer, type TestServer } from "../../src/testing/server.ts";

const CLIENT_ID = "1234-test.apps.googleusercontent.com";
const SECRET = "sign-in-test-jwt-secret-0123456789";
let google: TestKey;
let stranger: TestKey;
let jwks: { url: string; stop(): void };
let server: TestServer;
const clock = createManualClock(Date.now());

const idToken = (claims: Record<string, unknown> = {}, key = google) =>
  signWith(key, {
    iss: "https://accounts.google.com",
    aud: CLIENT_ID,
    sub: "google-sub-1",
    email: "dana@example.com",
    email_verified: true,
    name: "Dana",
    picture: "https://example.com/dana.png",
    iat: nowS(),
    exp: nowS() + 3600,
    ...claims,
  });

async function json(method: string, path: string, body?: unknown, token?: string): Promise<{ status: number; body: any }> {
  const headers: Record<string, string> = { "content-type": "application/json" };
  if (token) headers.authorization = `Bearer ${token}`;
  const res = await fetch(server.url + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  return { status: res.status, body: await res.json() };
}

beforeAll(async () => {
  [google, stranger] = await Promise.all([makeKey("RS256", "g-1"), makeKey("RS256", "g-1")]);
  jwks = startJwksServer({ "/oauth2/v3/certs": [google] });
  server = await startTestServer(
    {
      SWITCHYARD_JWT_SECRET: SECRET,
      SWITCHYARD_GOOGLE_CLIENT_ID: CLIENT_ID,
      SWITCHYARD_GOOGLE_JWKS_URL: `${jwks.url}/oauth2/v3/certs`,
      SWITCHYARD_SECRET_KEY: "ab".repeat(32),
    },
    { clock },
  );
});
afterAll(async () => {
  await server.close();
  jwks.stop();
});

describe("Google sign-in (POST /v1/auth/google)", () => {
  it("creates the user on first login, answers a 30-day bearer token, and finds the user again", async () => {
    const first = await json("POST", "/v1/auth/google", { credential: await idToken() });
    expect(first.status).toBe(200);
    expect(first.body).toMatchObject({ token_type: "Bearer", expires_in: 30 * 86_400, user: { email: "dana@example.com" } });
    expect(first.body.user.id).toMatch(/^user_/);
    const me = await json("GET", "/v1/auth/me", undefined, first.body.access_token);
    expect(me.body.user).toEqual({ id: first.body.user.id, email: "dana@example.com", name: "Dana", picture: "https://example.com/dana.png" });
    const again = await json("POST", "/v1/auth/google", { credential: await idToken({ name: "Dana B." }) });
    expect(again.body.user.id).toBe(first.body.user.id);
    expect(again.body.access_token).not.toBe(first.body.access_token);
    expect((await json("GET", "/v1/auth/me", undefined, again.body.access_token)).body.user.name).toBe("Dana B.");
  });

  it("refuses credentials Google does not vouch for", async () => {
    const bad = {
      "wrong audience": await idToken({ aud: "someone-else.apps.googleusercontent.com" }),
      "wrong issuer": await idToken({ iss: "https://evil.example" }),
      expired: await idToken({ exp: nowS() - 3600, iat: nowS() - 7200 }),
      "unknown key": await idToken({}, stranger),
      "unverified email": await idToken({ email_verified: false }),
      "not a JWT": "hello",
    };
    for (const [name, credential] of Object.entries(bad)) {
      const r = await json("POST", "/v1/auth/google", { credential });
      expect({ name, status: r.status, reason: r.body.error?.reason }).toEqual({ name, status: 401, reason: "GOOGLE_CREDENTIAL_INVALID" });
    }
    expect((await json("POST", "/v1/auth/google", {})).status).toBe(400);
  });

  it("needs no token for sign-in but a valid one for /v1/auth/me", async () => {
    expect((await json("GET", "/v1/auth/me")).status).toBe(401);
    expect((await json("GET", "/v1/auth/me", undefined, "sy_not-a-session")).status).toBe(401);
  });
});

describe("the device flow from a CLI-like client", () => {
  /** What a CLI does: start, show the code, poll the token endpoint. */
  const cli = {
    start: () => json("POST", "/v1/oauth/device", {}),
    poll: (deviceCode: string) => json("POST", "/v1/oauth/token", { grant_type: "urn:ietf:params:oauth:grant-type:device_code", device_code: deviceCode }),
  };

  it("logs in: pending, slow_down, authorize on the page with a Google credential, then the token once", async () => {
    const start = await cli.start();
    expect(start.status).toBe(200);
    const d = start.body;
    expect(d).toMatchObject({ expires_in: 900, interval: 5 });
    expect(d.verification_uri).toBe(`${server.url.replace("http://", "http://")}/device`);
    expect(d.verification_uri_complete).toBe(`${d.verification_uri}?code=${d.user_code}`);

    expect(await cli.poll(d.device_code)).toMatchObject({ status: 400, body: { error: "authorization_pending" } });
    expect(await cli.poll(d.device_code)).toMatchObject({ status: 400, body: { error: "slow_down" } });

    const page = await fetch(d.verification_uri_complete);
    expect(page.status).toBe(200);
    expect(page.headers.get("content-type")).toContain("text/html");
    const html = await page.text();
    expect(html).toContain(d.user_code);
    expect(html).toContain("waiting for you to authorize it");
    expect(html).toContain(`data-client_id="${CLIENT_ID}"`);

    const ok = await json("POST", "/v1/oauth/device/authorize", { user_code: d.user_code.toLowerCase(), credential: await idToken() });
    expect(ok).toMatchObject({ status: 200, body: { success: true } });
    expect(ok.body.message).toContain("Device authorized");

    clock.advance(10_000);
    const token = await cli.poll(d.device_code);
    expect(token.status).toBe(200);
    expect(token.body).toMatchObject({ token_type: "Bearer", expires_in: 30 * 86_400, user: { email: "dana@example.com" } });
    expect((await json("GET", "/v1/auth/me", undefined, token.body.access_token)).body.user.email).toBe("dana@example.com");

    clock.advance(10_000);
    expect(await cli.poll(d.device_code)).toMatchObject({ status: 400, body: { error: "invalid_grant" } });
  });

  it("logs a CLI in (src/testing/device-login.ts): pending, slow_down after an early poll, the person authorizes, the token", async () => {
    const polls: string[] = [];
    let userCode = "";
    const waits: number[] = [];
    const result = await deviceLogin(server.url, {
      onCode: (c) => {
        userCode = c.userCode;
      },
      onPoll: (a) => polls.push(a),
      async sleep(ms) {
        waits.push(ms);
        // The second wait is cut short, as a CLI polling too fast would; the others keep the interval.
        clock.advance(waits.length === 2 ? 1000 : ms);
        if (polls.length === 2) {
          const ok = await json("POST", "/v1/oauth/device/authorize", { user_code: userCode, credential: await idToken() });
          expect(ok.status).toBe(200);
        }
      },
    });
    expect(result).toMatchObject({ ok: true, user: { email: "dana@example.com" } });
    expect(polls).toEqual(["authorization_pending", "slow_down", "token"]);
    // After slow_down the client keeps the wider interval (5 s + 5 s).
    expect(waits).toEqual([5000, 5000, 10_000]);
  });

  it("authorizes with an existing bearer token, and refuses an anonymous authorize", async () => {
    const signedIn = (await json("POST", "/v1/auth/google", { credential: await idToken() })).body.access_token;
    const d = (await cli.start()).body;
    expect((await json("POST", "/v1/oauth/device/authorize", { user_code: d.user_code })).status).toBe(401);
    expect((await json("POST", "/v1/oauth/device/authorize", { user_code: d.user_code }, signedIn)).status).toBe(200);
    expect((await json("POST", "/v1/oauth/device/authorize", { user_code: d.user_code }, signedIn)).body.error.reason).toBe("DEVICE_ALREADY_ANSWERED");
    const token = await cli.poll(d.device_code);
    expect(token.status).toBe(200);
  });

  it("answers access_denied after the user denies, and expired_token after 15 minutes", async () => {
    const denied = (await cli.start()).body;
    expect((await json("POST", "/v1/oauth/device/deny", { user_code: denied.user_code })).body).toEqual({ success: true });
    expect(await cli.poll(denied.device_code)).toMatchObject({ status: 400, body: { error: "access_denied" } });

    const late = (await cli.start()).body;
    clock.advance(15 * 60_000);
    expect(await cli.poll(late.device_code)).toMatchObject({ status: 400, body: { error: "expired_token" } });
    const page = await (await fetch(`${late.verification_uri}?code=${late.user_code}`)).text();
    expect(page).toContain("expired");
  });

  it("refuses a wrong grant type and an unknown code in RFC 8628's shape", async () => {
    expect(await json("POST", "/v1/oauth/token", { grant_type: "password", device_code: "x" })).toMatchObject({ status: 400, body: { error: "unsupported_grant_type" } });
    expect(await cli.poll("nope")).toMatchObject({ status: 400, body: { error: "invalid_grant" } });
    // Standard OAuth clients post a form.
    const form = await fetch(`${server.url}/v1/oauth/token`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Adevice_code&device_code=nope",
    });
    expect(form.status).toBe(400);
    expect(await form.json()).toMatchObject({ error: "invalid_grant" });
    const unknown = await json("POST", "/v1/oauth/device/authorize", { user_code: "BCDF-GHJK", credential: await idToken() });
    expect(unknown.status).toBe(404);
    expect(unknown.body.error.reason).toBe("USER_CODE_NOT_FOUND");
  });
});

describe("provider API keys (/v1/auth/api-keys)", () => {
  it("sets, lists masked, hands out the values, deletes; sealed at rest; per user", async () => {
    const dana = (await json("POST", "/v1/auth/google", { credential: await idToken() })).body.access_token;
    const erin = (await json("POST", "/v1/auth/google", { credential: await idToken({ sub: "google-sub-2", email: "erin@example.com" }) })).body.access_token;
    const secret = "sk-test-0123456789abcdefWXYZ";
    expect(await json("POST", "/v1/auth/api-keys", { provider: "openai", key_value: secret }, dana)).toEqual({ status: 200, body: { success: true } });
    expect((await json("POST", "/v1/auth/api-keys", { provider: "anthropic", key_value: "sk-ant-zzzz9876" }, dana)).status).toBe(200);
    // Setting again replaces: still one key per provider.
    expect((await json("POST", "/v1/auth/api-keys", { provider: "openai", key_value: secret }, dana)).status).toBe(200);

    const list = (await json("GET", "/v1/auth/api-keys", undefined, dana)).body.api_keys;
    expect(list.map((k: any) => [k.provider, k.key_name])).toEqual([
      ["anthropic", "ANTHROPIC_API_KEY"],
      ["openai", "OPENAI_API_KEY"],
    ]);
    expect(list[1].key_value).toBe(`${"*".repeat(secret.length - 4)}WXYZ`);
    expect(JSON.stringify(list)).not.toContain("0123456789");

    const values = (await json("GET", "/v1/auth/api-keys/values", undefined, dana)).body;
    expect(values).toEqual({ env_vars: { OPENAI_API_KEY: secret, ANTHROPIC_API_KEY: "sk-ant-zzzz9876" } });
    const db = Buffer.from(await Bun.file(server.config.databasePath).arrayBuffer());
    const wal = Buffer.from(await Bun.file(`${server.config.databasePath}-wal`).arrayBuffer().catch(() => new ArrayBuffer(0)));
    expect(db.includes(Buffer.from(secret)) || wal.includes(Buffer.from(secret))).toBe(false);

    // Another user sees none of them.
    expect((await json("GET", "/v1/auth/api-keys", undefined, erin)).body.api_keys).toEqual([]);
    expect((await json("GET", "/v1/auth/api-keys/values", undefined, erin)).body.env_vars).toEqual({});
    expect((await json("DELETE", "/v1/auth/api-keys/openai", undefined, erin)).status).toBe(404);

    expect(await json("DELETE", "/v1/auth/api-keys/openai", undefined, dana)).toEqual({ status: 200, body: { success: true } });
    const gone = await json("DELETE", "/v1/auth/api-keys/openai", undefined, dana);
    expect(gone.status).toBe(404);
    expect(gone.body.error.reason).toBe("API_KEY_NOT_FOUND");
  });

  it("refuses bad input naming the field, and callers that are not users", async () => {
    const dana = (await json("POST", "/v1/auth/google", { credential: await idToken() })).body.access_token;
    const bad = await json("POST", "/v1/auth/api-keys", { provider: "no spaces please", key_value: "x" }, dana);
    expect(bad.status).toBe(400);
    expect(bad.body.error.metadata.field).toBe("provider");
    expect((await json("POST", "/v1/auth/api-keys", { provider: "openai", key_value: "x".repeat(5000) }, dana)).body.error.metadata.field).toBe("key_value");
    const service = await signHs256(SECRET, { roles: ["admin"], exp: nowS() + 60 });
    const r = await json("GET", "/v1/auth/api-keys", undefined, service);
    expect(r.status).toBe(400);
    expect(r.body.error.reason).toBe("USER_REQUIRED");
  });
});
