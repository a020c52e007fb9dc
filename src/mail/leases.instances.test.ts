// Several instances on one PostgreSQL and one nats-server, at the domain level: two mail domains,
// each over its own openPostgresDatabase of the same URL (its own pool, writer connection and
// group committer, and the database's clock) and its own NATS connection, as two servers have.
import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import type { Bus } from "../bus/bus.ts";
import { createNatsBus } from "../bus/nats.ts";
import { AppError } from "../core/errors.ts";
import { openPostgresDatabase, type PgDatabase } from "../db/open.ts";
import { startNatsServer, type NatsServer } from "../testing/nats-server.ts";
import { freshPostgresUrl } from "../testing/postgres.ts";
import type { Lease, LeaseEvent } from "./leases.ts";
import { createMail, type Mail } from "./mail.ts";
import { MAIL_STREAM } from "./messages.ts";
import { takeN } from "./testing.ts";

interface Instance {
  database: PgDatabase;
  bus: Bus;
  mail: Mail;
}

const wanted = (process.env.SWITCHYARD_TEST_DIALECTS ?? "sqlite,postgres").split(",").includes("postgres");

(wanted ? describe : describe.skip)("leases across two instances on one PostgreSQL [postgres]", () => {
  let nats: NatsServer;
  let instances: Instance[] = [];
  beforeAll(async () => {
    nats = await startNatsServer();
    const url = await freshPostgresUrl("mail_instances");
    for (let i = 0; i < 2; i++) {
      const database = await openPostgresDatabase(url);
      const bus = await createNatsBus({ servers: nats.url, name: `mail-instance-${i}`, clock: database.pg.clock });
      // The sweepers stay off here: the tests call sweepExpired on both instances themselves.
      const mail = await createMail({ database, bus, clock: database.pg.clock, leaseSweepMs: 0 });
      instances.push({ database, bus, mail });
    }
  }, 60_000);
  afterAll(async () => {
    for (const x of instances) {
      await x.mail.close();
      await x.bus.close();
      await x.database.close();
    }
    instances = [];
    await nats?.stop();
  });

  const watchFromNext = async (x: Instance, prefix: string) => x.mail.leases.watch({ prefix, startSequence: (await x.bus.lastSeq(MAIL_STREAM)) + 1 });

  it("grants a contended path to exactly one instance per round, 200 rounds, with strictly increasing tokens; every watcher sees every event once", async () => {
    const [a, b] = instances as [Instance, Instance];
    const watchers = [await watchFromNext(a, "race/"), await watchFromNext(b, "race/")];
    const winners: Lease[] = [];
    for (let round = 0; round < 200; round++) {
      // Two clients per instance race for one path.
      const racers = [a, b, a, b].map((x, i) => x.mail.leases.acquire({ path: "race/file.ts", holder: `agent-${i}`, ttlMs: 60_000 }));
      const settled = await Promise.allSettled(racers);
      const won = settled.filter((r): r is PromiseFulfilledResult<Lease> => r.status === "fulfilled").map((r) => r.value);
      expect(won).toHaveLength(1);
      const lease = won[0]!;
      for (const r of settled) {
        if (r.status === "rejected") expect(r.reason).toMatchObject({ reason: "LEASE_HELD", metadata: { holder: lease.holder } });
      }
      if (winners.length) expect(lease.fencingToken).toBeGreaterThan(winners[winners.length - 1]!.fencingToken);
      winners.push(lease);
      // Both instances agree on the holder; the other instance releases it (any instance serves any path).
      expect((await a.mail.leases.get("race/file.ts"))?.fencingToken).toBe(lease.fencingToken);
      expect((await b.mail.leases.get("race/file.ts"))?.fencingToken).toBe(lease.fencingToken);
      await (round % 2 ? a : b).mail.leases.release({ path: "race/file.ts", fencingToken: lease.fencingToken });
    }
    const expected = winners.flatMap((l): [string, number][] => [
      ["acquired", l.fencingToken],
      ["released", l.fencingToken],
    ]);
    const seen = await Promise.all(watchers.map((w) => takeN<LeaseEvent>(w, expected.length, 30_000)));
    for (const events of seen) {
      expect(events.map((e): [string, number] => [e.type, e.lease.fencingToken])).toEqual(expected);
      // Once each: one stored message per event, delivered once, in one order for everyone.
      const seqs = events.map((e) => e.sequence);
      expect(new Set(seqs).size).toBe(seqs.length);
      expect(seqs).toEqual(seen[0]!.map((e) => e.sequence));
    }
    const history = await a.mail.messages.listMessages({ topic: "leases.*", startSequence: seen[0]![0]!.sequence, pageSize: 1000 });
    expect(history.messages.filter((m) => (m.payload as { path?: string }).path === "race/file.ts")).toHaveLength(expected.length);
    for (const w of watchers) w.close();
  }, 60_000);

  it("expires each lease once although both instances sweep at the same time, by the database's clock", async () => {
    const [a, b] = instances as [Instance, Instance];
    const watchers = [await watchFromNext(a, "sweep/"), await watchFromNext(b, "sweep/")];
    const granted: Lease[] = [];
    for (let i = 0; i < 40; i++) granted.push(await (i % 2 ? a : b).mail.leases.acquire({ path: `sweep/f${i}`, holder: `h${i}`, ttlMs: 1_000 }));
    const last = Math.max(...granted.map((l) => l.expireTime));
    // Expiry follows the database's clock, which both instances read.
    while (a.database.pg.clock.now() <= last || b.database.pg.clock.now() <= last) await Bun.sleep(50);
    expect(await a.mail.leases.get("sweep/f0")).toBeUndefined();
    const sweeps = await Promise.all([a, b, a, b, a, b].map((x) => x.mail.leases.sweepExpired()));
    const swept = sweeps.flat().map((l) => l.path);
    expect(swept.filter((p) => p.startsWith("sweep/")).sort()).toEqual(granted.map((l) => l.path).sort());
    expect(new Set(swept).size).toBe(swept.length);
    for (const w of watchers) {
      const events = await takeN<LeaseEvent>(w, 80, 30_000);
      expect(events.filter((e) => e.type === "acquired")).toHaveLength(40);
      const expired = events.filter((e) => e.type === "expired").map((e) => e.lease.path);
      expect(expired.sort()).toEqual(granted.map((l) => l.path).sort());
    }
    for (const w of watchers) w.close();
  }, 60_000);

  it("announces each expiry once while both instances' sweepers run and the other instance takes over expired paths", async () => {
    const [a, b] = instances as [Instance, Instance];
    // Two more domains over the same databases and buses, with their sweepers on (every 10 ms).
    const sweeping = await Promise.all(instances.map((x) => createMail({ database: x.database, bus: x.bus, clock: x.database.pg.clock, leaseSweepMs: 10 })));
    try {
      const watcher = await watchFromNext(b, "timer/");
      const granted: Lease[] = [];
      for (let i = 0; i < 20; i++) granted.push(await a.mail.leases.acquire({ path: `timer/f${i}`, holder: "old", ttlMs: 1_000 }));
      const last = Math.max(...granted.map((l) => l.expireTime));
      while (b.database.pg.clock.now() <= last) await Bun.sleep(20);
      // Take over half of the paths from the other instance while the sweepers run.
      const taken = await Promise.all(granted.filter((_, i) => i % 2 === 0).map((l) => b.mail.leases.acquire({ path: l.path, holder: "new", ttlMs: 60_000 })));
      for (const t of taken) expect(t.fencingToken).toBeGreaterThan(Math.max(...granted.map((l) => l.fencingToken)));
      const events = await takeN<LeaseEvent>(watcher, 20 + 20 + taken.length, 30_000);
      const expired = events.filter((e) => e.type === "expired").map((e) => e.lease.fencingToken);
      expect(expired.sort((x, y) => x - y)).toEqual(granted.map((l) => l.fencingToken).sort((x, y) => x - y));
      // Nothing more: no second announcement of any expiry (a few more sweeps of both instances).
      await Bun.sleep(200);
      const history = await a.mail.messages.listMessages({ topic: "leases.expired", startSequence: events[0]!.sequence, pageSize: 1000 });
      const timerExpiries = history.messages.filter((m) => String((m.payload as { path?: string }).path).startsWith("timer/"));
      expect(timerExpiries).toHaveLength(20);
      watcher.close();
    } finally {
      for (const m of sweeping) await m.close();
    }
  }, 60_000);

  it("fences a stale holder across instances: after expiry the other instance's grant has a larger token and the old token is LEASE_LOST everywhere", async () => {
    const [a, b] = instances as [Instance, Instance];
    const old = await a.mail.leases.acquire({ path: "fence/x", holder: "slow", ttlMs: 1_000 });
    await expect(b.mail.leases.acquire({ path: "fence/x", holder: "fast", ttlMs: 1_000 })).rejects.toMatchObject({ reason: "LEASE_HELD" });
    while (b.database.pg.clock.now() <= old.expireTime) await Bun.sleep(50);
    const next = await b.mail.leases.acquire({ path: "fence/x", holder: "fast", ttlMs: 60_000 });
    expect(next.fencingToken).toBeGreaterThan(old.fencingToken);
    for (const x of [a, b]) {
      const e = await x.mail.leases.renew({ path: "fence/x", fencingToken: old.fencingToken }).catch((error: AppError) => error);
      expect(e).toMatchObject({ code: "failed_precondition", reason: "LEASE_LOST" });
    }
    expect((await a.mail.leases.get("fence/x"))?.holder).toBe("fast");
  }, 30_000);
});
