import { afterEach, describe, expect, it } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createManualClock } from "../core/clock.ts";
import { openDatabase, type Database } from "../db/client.ts";
import { describeBus, take } from "./bus.contract.ts";
import { createInProcessBus } from "./in-process.ts";
import { createSqliteBusLog } from "./sqlite-log.ts";

describeBus("in-process, memory log", async () => {
  const clock = createManualClock(Date.now());
  const bus = createInProcessBus({ clock });
  return {
    bus,
    elapse: async (ms) => clock.advance(ms),
    close: () => bus.close(),
  };
});

describeBus("in-process, SQLite log", async () => {
  const dir = mkdtempSync(join(tmpdir(), "switchyard-bus-"));
  const database = openDatabase(join(dir, "db.sqlite"));
  const clock = createManualClock(Date.now());
  const bus = createInProcessBus({ clock, log: createSqliteBusLog(database) });
  return {
    bus,
    elapse: async (ms) => clock.advance(ms),
    async close() {
      await bus.close();
      await database.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
});

describe("in-process bus over SQLite", () => {
  const dirs: string[] = [];
  const databases: Database[] = [];
  afterEach(async () => {
    for (const d of databases.splice(0)) await d.close().catch(() => {});
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });

  it("replays messages published before a restart, and keeps numbering after them", async () => {
    const dir = mkdtempSync(join(tmpdir(), "switchyard-bus-"));
    dirs.push(dir);
    const path = join(dir, "db.sqlite");
    const stream = { name: "MAIL", subjects: "mail.>" };
    const enc = new TextEncoder();

    const first = openDatabase(path);
    const bus1 = createInProcessBus({ log: createSqliteBusLog(first) });
    await bus1.ensureStream(stream);
    for (let i = 1; i <= 3; i++) await bus1.publish("mail.a", enc.encode(`m${i}`));
    await bus1.close();
    await first.close();

    const second = openDatabase(path);
    databases.push(second);
    const bus2 = createInProcessBus({ log: createSqliteBusLog(second) });
    await bus2.ensureStream(stream);
    const sub = bus2.subscribe("mail.>", { from: { kind: "sequence", seq: 2 } });
    const ack = await bus2.publish("mail.a", enc.encode("m4"));
    expect(ack.seq).toBe(4);
    const got = await take(sub, 3);
    expect(got.map((m) => [m.seq, new TextDecoder().decode(m.data)])).toEqual([
      [2, "m2"],
      [3, "m3"],
      [4, "m4"],
    ]);
    sub.close();
    await bus2.close();
  });

  it("acknowledges a publish only after its group commit", async () => {
    const dir = mkdtempSync(join(tmpdir(), "switchyard-bus-"));
    dirs.push(dir);
    const database = openDatabase(join(dir, "db.sqlite"));
    databases.push(database);
    const bus = createInProcessBus({ log: createSqliteBusLog(database) });
    await bus.ensureStream({ name: "MAIL", subjects: "mail.>" });
    const before = database.committer.stats.operations;
    const acks = await Promise.all(Array.from({ length: 50 }, (_, i) => bus.publish("mail.x", new TextEncoder().encode(String(i)))));
    expect(acks.map((a) => a.seq).sort((a, b) => a - b)).toEqual(Array.from({ length: 50 }, (_, i) => i + 1));
    expect(database.committer.stats.operations - before).toBe(50);
    const row = database.sqlite.query("SELECT count(*) AS n FROM bus_messages").get() as { n: number };
    expect(row.n).toBe(50);
    await bus.close();
  });
});
