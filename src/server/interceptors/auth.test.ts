import { describe, expect, it } from "bun:test";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ConfigError, loadConfig } from "../../config.ts";
import { AppError } from "../../core/errors.ts";
import { ANONYMOUS } from "../../core/principal.ts";
import { makeKey, nowS, signHs256, signWith } from "../../testing/jwt.ts";
import { createContextValues } from "@connectrpc/connect";
import { authorize, createPrincipalResolver, principalFor } from "./auth.ts";

const SECRET = "unit-test-secret-0123456789abcdef";
const config = (env: Record<string, string>) => loadConfig({ SWITCHYARD_DATA_DIR: "/tmp/unused", ...env });

async function refusal(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return "ok";
  } catch (e) {
    if (e instanceof AppError) return `${e.code}:${e.metadata.cause ?? e.reason}`;
    throw e;
  }
}

describe("the principal resolver", () => {
  it("maps the static token, service tokens, and JWT claims (sub/userId, roles/role, tenant) to principals", async () => {
    const c = config({
      SWITCHYARD_API_TOKEN: "static-token-0123456789",
      SWITCHYARD_API_TOKEN_TENANT: "ops",
      SWITCHYARD_SERVICE_TOKENS: "indexer:acme:internal+reader:svc-token-0123456789abcdef,plain:globex::svc-token-abcdef0123456789",
      SWITCHYARD_JWT_SECRET: SECRET,
    });
    const r = createPrincipalResolver({ apiToken: c.apiToken, auth: c.auth });
    expect(r.open).toBe(false);
    expect(await r.resolve("Bearer static-token-0123456789")).toEqual({ kind: "static_token", tenant: "ops", user: "", roles: ["admin"] });
    expect(await r.resolve("bearer svc-token-0123456789abcdef")).toEqual({ kind: "service_token", tenant: "acme", user: "service:indexer", roles: ["internal", "reader"] });
    expect((await r.resolve("Bearer svc-token-abcdef0123456789")).roles).toEqual([]);
    expect(await r.resolve(`Bearer ${await signHs256(SECRET, { userId: "u1", roles: ["admin"], exp: nowS() + 60 })}`)).toEqual({ kind: "jwt", tenant: "default", user: "u1", roles: ["admin"] });
    expect(await r.resolve(`Bearer ${await signHs256(SECRET, { sub: "u2", role: "user", tenant: "acme", exp: nowS() + 60 })}`)).toEqual({ kind: "jwt", tenant: "acme", user: "u2", roles: ["user"] });
    expect(await r.resolve(undefined)).toBe(ANONYMOUS);
    expect(await refusal(r.resolve(`Bearer ${await signHs256(SECRET, { tenant: "no/slashes", exp: nowS() + 60 })}`))).toBe("unauthenticated:TOKEN_INVALID");
    expect(await refusal(r.resolve(`Bearer ${await signHs256(SECRET, { roles: [1], exp: nowS() + 60 })}`))).toBe("unauthenticated:TOKEN_INVALID");
    expect(await refusal(r.resolve("Token abc"))).toBe("unauthenticated:TOKEN_INVALID");
  });

  it("verifies RS/ES/EdDSA tokens against a JWKS file and refuses HS tokens when no secret is set", async () => {
    const [rs, ed] = await Promise.all([makeKey("RS256", "a"), makeKey("EdDSA", "b")]);
    const file = join(mkdtempSync(join(tmpdir(), "switchyard-jwks-")), "jwks.json");
    writeFileSync(file, JSON.stringify({ keys: [rs.publicJwk, ed.publicJwk] }));
    const c = config({ SWITCHYARD_JWKS_FILE: file, SWITCHYARD_JWT_AUDIENCE: "sy" });
    const r = createPrincipalResolver({ apiToken: undefined, auth: c.auth });
    expect((await r.resolveToken(await signWith(rs, { sub: "x", aud: "sy", exp: nowS() + 60 }))).user).toBe("x");
    expect((await r.resolveToken(await signWith(ed, { sub: "y", aud: "sy", exp: nowS() + 60 }))).user).toBe("y");
    expect(await refusal(r.resolveToken(await signWith(rs, { sub: "x", exp: nowS() + 60 })))).toBe("unauthenticated:TOKEN_INVALID");
    expect(await refusal(r.resolveToken(await signHs256(SECRET, { aud: "sy", exp: nowS() + 60 })))).toBe("unauthenticated:TOKEN_INVALID");
    expect(await refusal(r.resolveToken(await signWith(rs, { aud: "sy", exp: nowS() - 3600 })))).toBe("unauthenticated:TOKEN_EXPIRED");
  });

  it("refuses a JWKS file that is not a key set when prepared (at startup), and a file that is not JSON at once", async () => {
    const dir = mkdtempSync(join(tmpdir(), "switchyard-jwks-"));
    writeFileSync(join(dir, "bad.json"), JSON.stringify({ keys: "none" }));
    writeFileSync(join(dir, "broken.json"), "{ not json");
    const r = createPrincipalResolver({ apiToken: undefined, auth: config({ SWITCHYARD_JWKS_FILE: join(dir, "bad.json") }).auth });
    expect(r.open).toBe(false);
    await expect(r.prepare()).rejects.toThrow(/JSON Web Key Set malformed/);
    expect(() => createPrincipalResolver({ apiToken: undefined, auth: config({ SWITCHYARD_JWKS_FILE: join(dir, "broken.json") }).auth })).toThrow(SyntaxError);
    // Without a JWT key, prepare() loads nothing and the resolver is open.
    const open = createPrincipalResolver({ apiToken: undefined, auth: config({}).auth });
    expect(open.open).toBe(true);
    await open.prepare();
  });

  it("answers unavailable, not unauthenticated, when the JWKS cannot be fetched", async () => {
    const k = await makeKey("RS256", "k");
    const c = config({ SWITCHYARD_JWKS_URL: "http://127.0.0.1:9/jwks.json" });
    const r = createPrincipalResolver({ apiToken: undefined, auth: c.auth });
    expect(await refusal(r.resolveToken(await signWith(k, { exp: nowS() + 60 })))).toBe("unavailable:JWKS_UNAVAILABLE");
  });

  it("resolves sessions through the registered lookup only", async () => {
    const c = config({ SWITCHYARD_JWT_SECRET: SECRET });
    const r = createPrincipalResolver({ apiToken: undefined, auth: c.auth });
    expect(await refusal(r.resolveToken("sy_session"))).toBe("unauthenticated:TOKEN_INVALID");
    r.useSessions((t) => (t === "sy_session" ? { kind: "session", tenant: "acme", user: "u", roles: [] } : undefined));
    expect((await r.resolveToken("sy_session")).tenant).toBe("acme");
    expect(await refusal(r.resolveToken("sy_other"))).toBe("unauthenticated:TOKEN_INVALID");
  });
});

describe("policies", () => {
  const user = { kind: "jwt" as const, tenant: "t", user: "u", roles: ["user"] };
  const admin = { ...user, roles: ["admin"] };
  const svc = { kind: "service_token" as const, tenant: "t", user: "service:x", roles: [] };
  const verdict = (f: () => void) => {
    try {
      f();
      return "ok";
    } catch (e) {
      return (e as AppError).reason;
    }
  };
  it("lets each principal through exactly the policies it meets", () => {
    expect(verdict(() => authorize(ANONYMOUS, "public", false))).toBe("ok");
    expect(verdict(() => authorize(ANONYMOUS, "authenticated", false))).toBe("UNAUTHENTICATED");
    expect(verdict(() => authorize(ANONYMOUS, "admin", true))).toBe("ok");
    expect(verdict(() => authorize(user, "authenticated", false))).toBe("ok");
    expect(verdict(() => authorize(user, "admin", false))).toBe("ADMIN_ROLE_REQUIRED");
    expect(verdict(() => authorize(user, "admin", true))).toBe("ADMIN_ROLE_REQUIRED");
    expect(verdict(() => authorize(admin, "admin", false))).toBe("ok");
    expect(verdict(() => authorize(user, "internal", false))).toBe("INTERNAL_ONLY");
    expect(verdict(() => authorize(svc, "internal", false))).toBe("ok");
    expect(verdict(() => authorize({ ...user, roles: ["internal"] }, "internal", false))).toBe("ok");
  });
});

describe("identity configuration", () => {
  const problems = (env: Record<string, string>) => {
    try {
      config(env);
      return [];
    } catch (e) {
      return (e as ConfigError).problems;
    }
  };
  it("lists every bad identity variable", () => {
    const p = problems({
      SWITCHYARD_SERVICE_TOKENS: "no-colons,a:bad tenant:r:short,b:acme::svc-token-0123456789abcdef,c:acme::svc-token-0123456789abcdef",
      SWITCHYARD_JWT_SECRET: "short",
      SWITCHYARD_JWKS_URL: "ftp://x",
      SWITCHYARD_JWKS_FILE: "/tmp/x.json",
      SWITCHYARD_API_TOKEN_TENANT: "a b",
      SWITCHYARD_JWT_CLOCK_SKEW_S: "-1",
    });
    const text = p.join("\n");
    for (const needle of ["name:tenant:roles:token", "tenant \"bad tenant\"", "the token of a must be", "used twice", "SWITCHYARD_JWT_SECRET", "SWITCHYARD_JWKS_URL: scheme", "set one, not both", "SWITCHYARD_API_TOKEN_TENANT", "SWITCHYARD_JWT_CLOCK_SKEW_S"]) {
      expect({ needle, found: text.includes(needle) }).toEqual({ needle, found: true });
    }
  });
  it("defaults to Google's JWKS and issuers, tenant default, 30 s skew", () => {
    const a = config({}).auth;
    expect(a).toMatchObject({ apiTokenTenant: "default", jwtClockSkewS: 30, jwtTenantClaim: "tenant", googleJwksUrl: "https://www.googleapis.com/oauth2/v3/certs", googleIssuers: ["https://accounts.google.com", "accounts.google.com"] });
  });
});

describe("principalFor", () => {
  it("ignores a bad credential on public calls and on an open server, refuses it elsewhere", async () => {
    const closed = createPrincipalResolver({ apiToken: undefined, auth: config({ SWITCHYARD_JWT_SECRET: SECRET }).auth });
    const open = createPrincipalResolver({ apiToken: undefined, auth: config({}).auth });
    expect(open.open).toBe(true);
    expect(await principalFor(closed, createContextValues(), "Bearer stale", "public")).toBe(ANONYMOUS);
    expect(await principalFor(open, createContextValues(), "Bearer stale", "admin")).toBe(ANONYMOUS);
    expect(await refusal(principalFor(closed, createContextValues(), "Bearer stale", "authenticated"))).toBe("unauthenticated:TOKEN_INVALID");
    // Resolved once per request: a second call with the same values reuses the principal.
    const values = createContextValues();
    const token = await signHs256(SECRET, { sub: "u", exp: nowS() + 60 });
    const first = await principalFor(closed, values, `Bearer ${token}`, "authenticated");
    expect(await principalFor(closed, values, "Bearer something-else", "authenticated")).toBe(first);
  });
});
