import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import { loadConfig } from "../config.ts";
import { createManualClock } from "../core/clock.ts";
import { AppError } from "../core/errors.ts";
import { createSecretBox, type SecretBox } from "../core/secret-box.ts";
import { openPostgresDatabase, type PgDatabase } from "../db/open.ts";
import { freshPostgresUrl } from "../testing/postgres.ts";
import { createAuth, type Auth } from "./auth.ts";
import { DEVICE_GRANT_TYPE, USER_CODE_ATTEMPTS_PER_MINUTE } from "./device-flow.ts";

/**
 * Two instances on one PostgreSQL database (two `openPostgresDatabase` on one URL, one auth
 * domain each, one clock as the database gives every instance): whatever one instance did, the
 * other sees — no state of the identity domain lives in a process.
 */
const wanted = (process.env.SWITCHYARD_TEST_DIALECTS ?? "sqlite,postgres").split(",").includes("postgres");

describe.skipIf(!wanted)("auth across two instances [postgres]", () => {
  const owner = { tenant: "acme", userId: "user_1", roles: ["user"] };
  const clock = createManualClock(Date.UTC(2026, 0, 1));
  let dbs: PgDatabase[] = [];
  let a: Auth;
  let b: Auth;

  beforeAll(async () => {
    const url = await freshPostgresUrl("auth_instances");
    dbs = [await openPostgresDatabase(url), await openPostgresDatabase(url)];
    const secrets: SecretBox = await createSecretBox(crypto.getRandomValues(new Uint8Array(32)));
    const config = loadConfig({}).auth;
    [a, b] = dbs.map((database) => createAuth({ database, clock, secrets, config })) as [Auth, Auth];
  }, 120_000);
  afterAll(async () => {
    for (const db of dbs) await db.close();
  });

  async function reason(p: Promise<unknown>): Promise<string> {
    try {
      await p;
      return "OK";
    } catch (e) {
      if (e instanceof AppError) return e.reason;
      throw e;
    }
  }

  it("a device code started on one instance is authorized through the other and polled through both: slow_down is shared, the token is handed out once", async () => {
    const d = await a.deviceFlow.start();
    expect(await reason(b.deviceFlow.poll(DEVICE_GRANT_TYPE, d.deviceCode))).toBe("AUTHORIZATION_PENDING");
    clock.advance(1000);
    // Polled early through the other instance: it knows of the first poll.
    expect(await reason(a.deviceFlow.poll(DEVICE_GRANT_TYPE, d.deviceCode))).toBe("SLOW_DOWN");
    expect((await b.deviceFlow.lookup(d.userCode, "page")).state).toBe("pending");
    await b.deviceFlow.authorize(d.userCode, "page", owner);
    expect((await a.deviceFlow.lookup(d.userCode, "page")).state).toBe("authorized");
    clock.advance(20_000);
    // Both instances poll at once: one gets the session, the other is told the code is used.
    const outcomes = await Promise.allSettled([a.deviceFlow.poll(DEVICE_GRANT_TYPE, d.deviceCode), b.deviceFlow.poll(DEVICE_GRANT_TYPE, d.deviceCode)]);
    const won = outcomes.filter((o) => o.status === "fulfilled");
    const lost = outcomes.filter((o): o is PromiseRejectedResult => o.status === "rejected").map((o) => (o.reason as AppError).reason);
    expect(won.length).toBe(1);
    // The loser waited on the row lock and then saw the code exchanged (or, polling in the same
    // millisecond, was told to slow down).
    expect(["DEVICE_CODE_NOT_FOUND", "SLOW_DOWN"]).toContain(lost[0]!);
    const token = (won[0] as PromiseFulfilledResult<{ token: string }>).value.token;
    expect(await a.sessions.lookup(token)).toMatchObject({ kind: "session", tenant: "acme", user: "user_1" });
    expect(await b.sessions.lookup(token)).toMatchObject({ kind: "session", tenant: "acme", user: "user_1" });
  });

  it("a session opened on one instance is resolved, listed and revoked on the other, and refused on both at once", async () => {
    const issued = await a.sessions.open(owner, "google");
    expect((await b.sessions.lookup(issued.token))?.user).toBe("user_1");
    expect((await b.sessions.list("acme", "user_1", 0, "")).sessions.map((s) => s.id)).toContain(issued.session.id);
    await b.sessions.revoke("acme", "user_1", issued.session.id);
    expect(await a.sessions.lookup(issued.token)).toBeUndefined();
    expect(await b.sessions.lookup(issued.token)).toBeUndefined();
    expect(await reason(a.sessions.revoke("acme", "user_1", issued.session.id))).toBe("SESSION_NOT_FOUND");
  });

  it("counts wrong user codes of one caller across instances: the limit holds in all", async () => {
    const d = await b.deviceFlow.start();
    const reasons: string[] = [];
    for (let i = 0; i < USER_CODE_ATTEMPTS_PER_MINUTE; i++) reasons.push(await reason((i % 2 ? a : b).deviceFlow.authorize("BBBB-BBBB", "attacker", owner)));
    expect(reasons.every((r) => r === "USER_CODE_NOT_FOUND")).toBe(true);
    expect(await reason(a.deviceFlow.lookup("CCCC-CCCC", "attacker"))).toBe("RATE_LIMITED");
    expect(await reason(b.deviceFlow.authorize(d.userCode, "attacker", owner))).toBe("RATE_LIMITED");
    expect(await reason(a.deviceFlow.authorize(d.userCode, "someone-else", owner))).toBe("OK");
  });

  it("the same identity signing in through both instances at once is one user", async () => {
    const identity = { issuer: "https://accounts.google.com", subject: "sub-1", email: "a@example.com", name: "A", picture: "" };
    const [u1, u2] = await Promise.all([a.upsertUser(identity), b.upsertUser(identity)]);
    expect(u1.id).toBe(u2.id);
    expect(await b.users.get(u1.tenant, u1.id)).toMatchObject({ email: "a@example.com" });
  });

  it("API keys set through one instance are listed, opened and removed through the other", async () => {
    await a.apiKeys.set("acme", "user_1", "openai", "sk-test-1234567890");
    expect((await b.apiKeys.list("acme", "user_1")).map((k) => k.maskedValue)).toEqual(["**************7890"]);
    expect(await b.apiKeys.values("acme", "user_1")).toEqual({ OPENAI_API_KEY: "sk-test-1234567890" });
    await b.apiKeys.remove("acme", "user_1", "openai");
    expect(await a.apiKeys.list("acme", "user_1")).toEqual([]);
    expect(await a.apiKeys.list("globex", "user_1")).toEqual([]);
  });
});
