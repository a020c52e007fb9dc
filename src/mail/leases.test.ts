import { afterEach, describe, expect, it } from "bun:test";
import fc from "fast-check";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createManualClock } from "../core/clock.ts";
import { AppError } from "../core/errors.ts";
import { openDatabase } from "../db/client.ts";
import { describeDialects } from "../testing/dialects.ts";
import { createInProcessBus } from "../bus/in-process.ts";
import { createLeases, type LeaseEvent } from "./leases.ts";
import { createMessages } from "./messages.ts";
import { createMailFixture, takeN, type MailFixture } from "./testing.ts";

async function caught(p: Promise<unknown>): Promise<AppError> {
  try {
    await p;
  } catch (e) {
    if (e instanceof AppError) return e;
    throw e;
  }
  throw new Error("expected an AppError");
}

describeDialects("file leases", (openDatabase) => {
  let f: MailFixture;
  afterEach(async () => {
    await f?.close();
  });
  const open = async () => {
    f = await createMailFixture({ database: await openDatabase() });
    return f.mail.leases;
  };

  it("grants a free path with a fencing token and an expiry from the server clock", async () => {
    const leases = await open();
    const lease = await leases.acquire({ path: "./src//a.ts", holder: "agent-1", ttlMs: 30_000 });
    expect(lease).toMatchObject({ path: "src/a.ts", holder: "agent-1", acquireTime: f.clock.now(), expireTime: f.clock.now() + 30_000 });
    expect(lease.fencingToken).toBeGreaterThan(0);
    expect(await leases.get("src/a.ts")).toEqual(lease);
  });

  it("refuses a second holder with LEASE_HELD naming the holder and the expiry", async () => {
    const leases = await open();
    const lease = await leases.acquire({ path: "src/a.ts", holder: "agent-1", ttlMs: 30_000 });
    const e = await caught(leases.acquire({ path: "src/a.ts", holder: "agent-2" }));
    expect({ code: e.code, reason: e.reason }).toEqual({ code: "aborted", reason: "LEASE_HELD" });
    expect(e.metadata).toMatchObject({ holder: "agent-1", expire_time: new Date(lease.expireTime).toISOString(), path: "src/a.ts" });
  });

  it("lets the same holder acquire again, extending its lease under the same token", async () => {
    const leases = await open();
    const a = await leases.acquire({ path: "x", holder: "h", ttlMs: 10_000 });
    f.clock.advance(5_000);
    const b = await leases.acquire({ path: "x", holder: "h", ttlMs: 10_000 });
    expect(b.fencingToken).toBe(a.fencingToken);
    expect(b.expireTime).toBe(a.expireTime + 5_000);
  });

  it("refuses a stale holder with LEASE_LOST after its lease expired and another took the path", async () => {
    const leases = await open();
    const old = await leases.acquire({ path: "p", holder: "slow", ttlMs: 5_000 });
    f.clock.advance(5_000);
    expect(await leases.get("p")).toBeUndefined();
    // Even before anyone else takes it, the expired token cannot renew or release.
    for (const e of [await caught(leases.renew({ path: "p", fencingToken: old.fencingToken })), await caught(leases.release({ path: "p", fencingToken: old.fencingToken }))]) {
      expect({ code: e.code, reason: e.reason }).toEqual({ code: "failed_precondition", reason: "LEASE_LOST" });
    }
    const next = await leases.acquire({ path: "p", holder: "fast", ttlMs: 5_000 });
    expect(next.fencingToken).toBeGreaterThan(old.fencingToken);
    const e = await caught(leases.release({ path: "p", fencingToken: old.fencingToken }));
    expect(e.reason).toBe("LEASE_LOST");
    expect((await leases.get("p"))?.holder).toBe("fast");
  });

  it("renews with the token, moving the expiry, and releases with it, freeing the path", async () => {
    const leases = await open();
    const a = await leases.acquire({ path: "r", holder: "h", ttlMs: 10_000 });
    f.clock.advance(9_000);
    const renewed = await leases.renew({ path: "r", fencingToken: a.fencingToken });
    expect(renewed.expireTime).toBe(f.clock.now() + 10_000);
    f.clock.advance(9_000);
    expect((await leases.get("r"))?.holder).toBe("h");
    await leases.release({ path: "r", fencingToken: a.fencingToken });
    expect(await leases.get("r")).toBeUndefined();
    const again = await caught(leases.release({ path: "r", fencingToken: a.fencingToken }));
    expect(again.reason).toBe("LEASE_LOST");
    const b = await leases.acquire({ path: "r", holder: "other" });
    expect(b.fencingToken).toBeGreaterThan(a.fencingToken);
  });

  it("lists current leases by prefix and holder in path order, paginated", async () => {
    const leases = await open();
    for (const p of ["src/b.ts", "src/a.ts", "src2/c.ts", "docs/x.md", "src/sub/d.ts"]) await leases.acquire({ path: p, holder: p.startsWith("src/s") ? "h2" : "h1", ttlMs: 10_000 });
    await leases.acquire({ path: "src/old.ts", holder: "h1", ttlMs: 1_000 });
    f.clock.advance(2_000);
    const p1 = await leases.list({ prefix: "src/", pageSize: 2 });
    const p2 = await leases.list({ prefix: "src/", pageSize: 2, pageToken: p1.nextPageToken });
    expect(p1.leases.map((l) => l.path)).toEqual(["src/a.ts", "src/b.ts"]);
    expect(p2.leases.map((l) => l.path)).toEqual(["src/sub/d.ts"]);
    expect(p2.nextPageToken).toBe("");
    expect((await leases.list({ prefix: "src" })).leases.map((l) => l.path)).toEqual(["src/a.ts", "src/b.ts", "src/sub/d.ts", "src2/c.ts"]);
    expect((await leases.list({ holder: "h2" })).leases.map((l) => l.path)).toEqual(["src/sub/d.ts"]);
    expect((await leases.list({})).leases).toHaveLength(5);
  });

  it("refuses bad paths, holders, ttls and tokens with invalid_argument naming the field", async () => {
    const leases = await open();
    const cases: [Promise<unknown>, string][] = [
      [leases.acquire({ path: "../etc/passwd", holder: "h" }), "path"],
      [leases.acquire({ path: "a/\u0000b", holder: "h" }), "path"],
      [leases.acquire({ path: "x".repeat(2000), holder: "h" }), "path"],
      [leases.acquire({ path: "", holder: "h" }), "path"],
      [leases.acquire({ path: "ok", holder: "" }), "holder"],
      [leases.acquire({ path: "ok", holder: "h", ttlMs: 10 }), "ttl"],
      [leases.acquire({ path: "ok", holder: "h", ttlMs: 48 * 3600_000 }), "ttl"],
      [leases.renew({ path: "ok", fencingToken: 0 }), "fencing_token"],
      [leases.release({ path: "a/../b", fencingToken: 1 }), "path"],
      [leases.get("a/../../b"), "path"],
      [leases.list({ prefix: "a/../b" }), "prefix"],
      [leases.list({ pageSize: -1 }), "page_size"],
    ];
    for (const [p, field] of cases) {
      const e = await caught(p);
      expect({ code: e.code, field: e.metadata.field }).toEqual({ code: "invalid_argument", field });
    }
  });

  it("publishes acquired, renewed, released and expired events on leases.* for watchers", async () => {
    const leases = await open();
    const watch = leases.watch({ prefix: "w/" });
    const all = f.mail.messages.subscribe({ topic: "leases.>" });
    await Bun.sleep(20);
    const a = await leases.acquire({ path: "w/1", holder: "h", ttlMs: 5_000 });
    await leases.acquire({ path: "elsewhere", holder: "h", ttlMs: 5_000 });
    await leases.renew({ path: "w/1", fencingToken: a.fencingToken });
    await leases.release({ path: "w/1", fencingToken: a.fencingToken });
    await leases.acquire({ path: "w/2", holder: "h2", ttlMs: 1_000 });
    f.clock.advance(1_000);
    const swept = await leases.sweepExpired();
    expect(swept.map((l) => l.path).sort()).toEqual(["w/2"]);
    const events = await takeN<LeaseEvent>(watch, 5);
    expect(events.map((e) => [e.type, e.lease.path])).toEqual([
      ["acquired", "w/1"],
      ["renewed", "w/1"],
      ["released", "w/1"],
      ["acquired", "w/2"],
      ["expired", "w/2"],
    ]);
    expect(events[0]!.lease.fencingToken).toBe(a.fencingToken);
    const raw = await takeN(all, 1);
    expect(raw[0]).toMatchObject({ topic: "leases.acquired", sender: "switchyard", payload: { type: "acquired", path: "w/1", holder: "h", fencing_token: a.fencingToken } });
    // A watcher that reconnects from a sequence gets the events it missed.
    const replay = leases.watch({ prefix: "w/", startSequence: events[2]!.sequence });
    expect((await takeN<LeaseEvent>(replay, 3)).map((e) => e.type)).toEqual(["released", "acquired", "expired"]);
    for (const s of [watch, all, replay]) s.close();
  });

  it("announces the expiry of a lease taken over before the sweeper ran", async () => {
    const leases = await open();
    await leases.acquire({ path: "t", holder: "a", ttlMs: 1_000 });
    f.clock.advance(1_500);
    await leases.acquire({ path: "t", holder: "b", ttlMs: 1_000 });
    const history = await f.mail.messages.listMessages({ topic: "leases.*" });
    expect(history.messages.map((m) => [m.topic, (m.payload as { holder: string }).holder])).toEqual([
      ["leases.acquired", "a"],
      ["leases.expired", "a"],
      ["leases.acquired", "b"],
    ]);
    expect(await leases.sweepExpired()).toEqual([]);
  });
});

describeDialects("lease races", (openDatabase) => {
  it("gives a contended path to exactly one of 32 concurrent acquirers", async () => {
    const f = await createMailFixture({ database: await openDatabase() });
    const results = await Promise.allSettled(Array.from({ length: 32 }, (_, i) => f.mail.leases.acquire({ path: "hot.ts", holder: `agent-${i}`, ttlMs: 10_000 })));
    const won = results.filter((r) => r.status === "fulfilled");
    const lost = results.filter((r): r is PromiseRejectedResult => r.status === "rejected");
    expect(won).toHaveLength(1);
    const winner = (won[0] as PromiseFulfilledResult<{ holder: string }>).value.holder;
    for (const r of lost) expect(r.reason).toMatchObject({ reason: "LEASE_HELD", metadata: { holder: winner } });
    await f.close();
  });

  it("keeps at most one holder per path through any interleaving of acquire, renew, release and time (property)", async () => {
    const clock = createManualClock(Date.UTC(2026, 0, 1));
    const f = await createMailFixture({ clock, database: await openDatabase() });
    const leases = f.mail.leases;
    const op = fc.oneof(
      fc.record({ kind: fc.constant("acquire" as const), who: fc.integer({ min: 0, max: 3 }), path: fc.integer({ min: 0, max: 1 }), ttl: fc.integer({ min: 1, max: 5 }) }),
      fc.record({ kind: fc.constant("renew" as const), who: fc.integer({ min: 0, max: 3 }), path: fc.integer({ min: 0, max: 1 }), ttl: fc.integer({ min: 1, max: 5 }) }),
      fc.record({ kind: fc.constant("release" as const), who: fc.integer({ min: 0, max: 3 }), path: fc.integer({ min: 0, max: 1 }) }),
      fc.record({ kind: fc.constant("tick" as const), seconds: fc.integer({ min: 1, max: 4 }) }),
    );
    let run = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(fc.array(op, { minLength: 1, maxLength: 4 }), { minLength: 1, maxLength: 25 }), async (rounds) => {
        run++;
        // Model: per path, the holder and token the server must agree with.
        const model = new Map<string, { who: number; token: number; expires: number }>();
        const mine = new Map<string, number>(); // `${who}|${path}` → last token granted to who
        let lastToken = 0;
        for (const round of rounds) {
          // Operations of one round run concurrently (one group commit).
          const used = new Map<object, number>();
          const settled = await Promise.allSettled(
            round.map((o) => {
              if (o.kind === "tick") return Promise.resolve(clock.advance(o.seconds * 1000));
              const path = `run${run}/p${o.path}`;
              if (o.kind === "acquire") return leases.acquire({ path, holder: `h${o.who}`, ttlMs: o.ttl * 1000 });
              // The token the holder knows when it sends the request (not one granted in this round).
              const token = mine.get(`${o.who}|${path}`) ?? 1e9;
              used.set(o, token);
              return o.kind === "renew" ? leases.renew({ path, fencingToken: token, ttlMs: o.ttl * 1000 }) : leases.release({ path, fencingToken: token });
            }),
          );
          // Ticks ran at submission, so every operation of the round saw this time, in order.
          const now = clock.now();
          for (let i = 0; i < round.length; i++) {
            const o = round[i]!;
            const r = settled[i]!;
            if (o.kind === "tick") continue;
            const path = `run${run}/p${o.path}`;
            const held = model.get(path);
            const live = held && held.expires > now ? held : undefined;
            if (o.kind === "acquire") {
              if (live && live.who !== o.who) {
                expect(r.status).toBe("rejected");
                expect((r as PromiseRejectedResult).reason).toMatchObject({ reason: "LEASE_HELD", metadata: { holder: `h${live.who}` } });
                continue;
              }
              expect(r.status).toBe("fulfilled");
              const lease = (r as PromiseFulfilledResult<{ fencingToken: number; expireTime: number }>).value;
              if (live) expect(lease.fencingToken).toBe(live.token);
              else {
                expect(lease.fencingToken).toBeGreaterThan(lastToken);
                lastToken = lease.fencingToken;
              }
              expect(lease.expireTime).toBe(now + o.ttl * 1000);
              model.set(path, { who: o.who, token: lease.fencingToken, expires: lease.expireTime });
              mine.set(`${o.who}|${path}`, lease.fencingToken);
              continue;
            }
            const token = used.get(o)!;
            if (!live || live.token !== token) {
              expect(r.status).toBe("rejected");
              expect((r as PromiseRejectedResult).reason).toMatchObject({ code: "failed_precondition", reason: "LEASE_LOST" });
              continue;
            }
            expect(r.status).toBe("fulfilled");
            if (o.kind === "release") model.delete(path);
            else model.set(path, { ...live, expires: now + o.ttl * 1000 });
          }
          // The server agrees with the model: one holder (or none) per path.
          for (const p of [0, 1]) {
            const path = `run${run}/p${p}`;
            const server = await leases.get(path);
            const m = model.get(path);
            const expected = m && m.expires > now ? m : undefined;
            expect(server ? { who: server.holder, token: server.fencingToken } : undefined).toEqual(expected ? { who: `h${expected.who}`, token: expected.token } : undefined);
          }
        }
      }),
      { numRuns: 60 },
    );
    await f.close();
  }, 30_000);
});

describe("lease races (two SQLite connections)", () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });

  it("never has two holders at once: 16 acquirers on two database connections racing acquire and release", async () => {
    const dir = mkdtempSync(join(tmpdir(), "switchyard-lease-race-"));
    dirs.push(dir);
    const path = join(dir, "switchyard.db");
    // Two connections with their own group committers stand for two server processes.
    const instances = [openDatabase(path), openDatabase(path)].map((database) => {
      const messages = createMessages({ bus: createInProcessBus() });
      return { database, leases: createLeases({ database, messages }) };
    });
    let holders = 0;
    let maxHolders = 0;
    let grants = 0;
    const tokens: number[] = [];
    const deadline = Date.now() + 1_500;
    await Promise.all(
      Array.from({ length: 16 }, async (_, i) => {
        const { leases } = instances[i % 2]!;
        while (Date.now() < deadline) {
          try {
            const lease = await leases.acquire({ path: "shared/file.ts", holder: `agent-${i}`, ttlMs: 60_000 });
            holders++;
            maxHolders = Math.max(maxHolders, holders);
            grants++;
            tokens.push(lease.fencingToken);
            await Bun.sleep(1);
            holders--;
            await leases.release({ path: "shared/file.ts", fencingToken: lease.fencingToken });
          } catch (e) {
            if (!(e instanceof AppError) || e.reason !== "LEASE_HELD") throw e;
            await Bun.sleep(Math.random() * 2);
          }
        }
      }),
    );
    expect(maxHolders).toBe(1);
    expect(grants).toBeGreaterThan(5);
    // Tokens grow strictly in grant order.
    for (let i = 1; i < tokens.length; i++) expect(tokens[i]!).toBeGreaterThan(tokens[i - 1]!);
    for (const x of instances) await x.database.close();
  }, 20_000);
});
