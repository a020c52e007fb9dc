import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import { sign } from "@octokit/webhooks-methods";
import { createManualClock } from "../core/clock.ts";
import { AppError } from "../core/errors.ts";
import { openPostgresDatabase, type PgDatabase } from "../db/open.ts";
import { freshPostgresUrl } from "../testing/postgres.ts";
import { openAgentsFixture, type AgentsFixture } from "./testing.ts";

/**
 * Two instances of the agents domain on one PostgreSQL database (two `openPostgresDatabase` on
 * one URL, one clock, one secret key) over one task engine (on a SQLite file: the engine has no
 * PostgreSQL store yet, so both instances use the same engine object, as the fleet shares one
 * task store); what is decided here is the agents' own state: quotas, sessions and their
 * events, integrations and webhook deliveries.
 */
const wanted = (process.env.SWITCHYARD_TEST_DIALECTS ?? "sqlite,postgres").split(",").includes("postgres");
const KEY = "sk-ant-session-key-0001";
const SECRET = "webhook secret";

describe.skipIf(!wanted)("agents across two instances [postgres]", () => {
  const clock = createManualClock(Date.UTC(2026, 3, 1, 10));
  const dbs: PgDatabase[] = [];
  let a: AgentsFixture;
  let b: AgentsFixture;

  beforeAll(async () => {
    const url = await freshPostgresUrl("agents_instances");
    dbs.push(await openPostgresDatabase(url), await openPostgresDatabase(url));
    const env = { SWITCHYARD_AGENT_MAX_DAILY_TOKENS: "100", SWITCHYARD_AGENT_MAX_CONCURRENT_SESSIONS: "2", SWITCHYARD_GITHUB_WEBHOOK_SECRET: SECRET };
    a = await openAgentsFixture(env, { database: dbs[0]!, clock });
    b = await openAgentsFixture(env, { database: dbs[1]!, share: a });
    // Started as a server starts them: each follows the other's session changes (the shared bus stands for NATS).
    a.agents.start!();
    b.agents.start!();
  }, 120_000);
  afterAll(async () => {
    await b?.close();
    await a?.close();
    for (const db of dbs) await db.close();
  });

  const start = (f: typeof a, tenant: string) => f.agents.sessions.start(tenant, { prompt: "do it", repository: { name: "o/r" }, anthropicApiKey: KEY }).then((r) => r.session);
  const outcome = (p: Promise<unknown>) =>
    p.then(
      () => "OK",
      (e) => (e instanceof AppError ? e.reason : Promise.reject(e)),
    );

  it("two instances racing for the last concurrent-session places: exactly the quota is admitted", async () => {
    for (const tenant of ["race-1", "race-2", "race-3"]) {
      // The day's usage row exists already (a session started and ended): its lock, not the
      // first insert of the row, must be what keeps the two instances apart.
      const warm = await start(a, tenant);
      await b.agents.sessions.end(tenant, warm.id);
      // Four starts on each instance at once, for 2 places in all.
      const results = await Promise.all([0, 1, 2, 3, 4, 5, 6, 7].map((i) => outcome(start(i % 2 ? a : b, tenant))));
      expect(results.filter((r) => r === "OK").length).toBe(2);
      expect(results.filter((r) => r === "QUOTA_EXCEEDED").length).toBe(6);
      expect(await a.agents.quota.get(tenant)).toMatchObject({ activeSessions: 2, allowed: false, reason: "too many concurrent sessions" });
      expect((await b.agents.sessions.list(tenant, { state: "queued" })).items.length).toBe(2);
    }
  });

  it("a session started on one instance is read, ended and replayed on the other; usage counts for both", async () => {
    const s = await start(a, "t");
    expect(await b.agents.sessions.get("t", s.id)).toMatchObject({ id: s.id, state: "queued" });
    const { lease } = await a.engine.scoped("t").claimTask({ id: s.taskId, workerId: "w1" });
    await a.agents.sessions.appendEvents("t", s.id, lease.fencingToken, [{ name: "claude_start", data: { turn: 1, prompt: "do it" } }], { inputTokens: 60, outputTokens: 50, costUsd: 0.1 });
    expect(await b.agents.quota.get("t")).toMatchObject({ dailyTokens: 110, allowed: false, reason: "daily token limit reached" });
    expect(await outcome(start(b, "t"))).toBe("QUOTA_EXCEEDED");
    await b.agents.sessions.end("t", s.id, "done here");
    const seen = [];
    for await (const e of a.agents.sessions.watch("t", s.id, 0, new AbortController().signal)) seen.push(e);
    // queued, claude_start (the claim applied by the worker's report or once by the task event), ended: numbered without gaps.
    expect(seen.map((e) => e.seq)).toEqual(seen.map((_, i) => i + 1));
    expect(seen.filter((e) => e.name === "status" && String(e.data.message).includes("started")).length).toBeLessThanOrEqual(1);
    expect(seen.at(-1)).toMatchObject({ name: "error", data: { reason: "SESSION_ENDED" } });
    // Ending through b cancelled the task too: the worker reporting through a no longer holds it.
    expect(await outcome(a.agents.sessions.appendEvents("t", s.id, lease.fencingToken, [{ name: "status", data: { message: "late" } }], undefined))).toBe("LEASE_LOST");
  });

  it("a watcher held by one instance follows live what a worker reports through the other", async () => {
    const s = await start(a, "live");
    const { lease } = await a.engine.scoped("live").claimTask({ id: s.taskId, workerId: "w1" });
    const ac = new AbortController();
    const seen: string[] = [];
    const watching = (async () => {
      for await (const e of b.agents.sessions.watch("live", s.id, 0, ac.signal)) {
        seen.push(e.name);
        if (e.name === "complete") return;
      }
    })();
    // The watcher has replayed what is stored and waits; the worker reports through a.
    for (let i = 0; i < 400 && !seen.includes("status"); i++) await Bun.sleep(5);
    await a.agents.sessions.appendEvents("live", s.id, lease.fencingToken, [{ name: "claude_start", data: { turn: 1, prompt: "do it" } }], undefined);
    await a.agents.sessions.appendEvents("live", s.id, lease.fencingToken, [{ name: "complete", data: { sessionId: s.id, turns: 1 } }], undefined);
    const timeout = setTimeout(() => ac.abort(), 10_000);
    await watching;
    clearTimeout(timeout);
    expect(seen.slice(-2)).toEqual(["claude_start", "complete"]);
  });

  it("a Claude key stored through one instance serves sessions started on the other", async () => {
    expect(await outcome(b.agents.sessions.start("keys", { prompt: "p", repository: { name: "o/r" } }))).toBe("CLAUDE_NOT_CONFIGURED");
    await a.agents.integrations.setClaudeKey("keys", KEY);
    expect((await b.agents.integrations.claudeStatus("keys")).configured).toBe(true);
    expect(await outcome(b.agents.sessions.start("keys", { prompt: "p", repository: { name: "o/r" } }))).toBe("OK");
  });

  it("one webhook delivery reaching both instances at once is acted on once; the counts of both are kept", async () => {
    const payload = JSON.stringify({ action: "created", installation: { id: 42, account: { login: "octo" } } });
    const delivery = async (id: string) => ({ payload: new TextEncoder().encode(payload), event: "installation", deliveryId: id, signature: await sign(SECRET, payload) });
    const d1 = await delivery("d-1");
    const [r1, r2] = await Promise.all([a.agents.integrations.receiveWebhook("gh", d1), b.agents.integrations.receiveWebhook("gh", d1)]);
    expect([r1.outcome, r2.outcome].sort()).toEqual(["duplicate", "installation_updated"]);
    // Different deliveries at once through both: neither count is lost.
    await Promise.all([a.agents.integrations.receiveWebhook("gh", await delivery("d-2")), b.agents.integrations.receiveWebhook("gh", await delivery("d-3"))]);
    expect(await a.agents.integrations.status("gh")).toMatchObject({ installationId: "42", owner: "octo", totalWebhooks: 3 });
  });
});
