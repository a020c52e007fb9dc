// Durability of the group committer with the WAL synced off the event loop: an answer waits for
// a sync that began after its commit; a process killed right after acknowledgements keeps every
// acknowledged write; checkpoints happen on the worker's connection, not the writer's.
import { afterEach, describe, expect, it } from "bun:test";
import { Database as Sqlite } from "bun:sqlite";
import { mkdtempSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openDatabase, type Database } from "./client.ts";
import { createCommitter, DurabilityError } from "./group-commit.ts";
import { startCheckpointer } from "./checkpointer.ts";
import { createWalSyncer } from "./wal-sync.ts";

let dir: string;
const toClose: Database[] = [];

function freshDir(): string {
  dir = mkdtempSync(join(tmpdir(), "switchyard-durable-"));
  return dir;
}

afterEach(async () => {
  for (const d of toClose.splice(0)) await d.close();
  rmSync(dir, { recursive: true, force: true });
});

/** A sync the test releases by hand, recording how many groups were committed when each began. */
function manualSync(groups: () => number) {
  const calls: { committedBefore: number; release: () => void; fail: (e: unknown) => void }[] = [];
  return {
    calls,
    durable: () =>
      new Promise<void>((resolve, reject) => calls.push({ committedBefore: groups(), release: resolve, fail: reject })),
  };
}

const tick = () => new Promise((r) => setImmediate(r));
/** Two turns of the loop: what was submitted has been grouped, run and committed. */
const flushed = async () => {
  await tick();
  await tick();
};

describe("answers after the sync", () => {
  function setup() {
    const sqlite = new Sqlite(join(freshDir(), "m.db"));
    sqlite.exec("PRAGMA journal_mode = WAL");
    sqlite.exec("CREATE TABLE t (v TEXT NOT NULL UNIQUE)");
    let committer: ReturnType<typeof createCommitter>;
    const sync = manualSync(() => committer.stats.groups);
    committer = createCommitter(sqlite, { durable: sync.durable });
    const insert = sqlite.prepare("INSERT INTO t (v) VALUES (?)");
    return { sqlite, committer, sync, insert };
  }

  it("holds every answer of a committed group until a sync that began after its commit returns", async () => {
    const { sqlite, committer, sync, insert } = setup();
    const answered: string[] = [];
    const first = ["a", "b"].map((v) => committer.run(() => insert.run(v)).then(() => answered.push(v)));
    await flushed();
    // Committed (visible to a reader) but not acknowledged: the sync has not returned.
    expect(sqlite.query("SELECT count(*) AS n FROM t").get()).toEqual({ n: 2 });
    expect(sync.calls.map((c) => c.committedBefore)).toEqual([1]);
    expect(answered).toEqual([]);

    // A group committed while that sync is in flight is not covered by it.
    const second = committer.run(() => insert.run("c")).then(() => answered.push("c"));
    await flushed();
    expect(committer.stats.groups).toBe(2);
    sync.calls[0]!.release();
    await Promise.all(first);
    await tick();
    expect(answered).toEqual(["a", "b"]);
    // The next sync began after group 2's commit, and it alone answers "c".
    expect(sync.calls.map((c) => c.committedBefore)).toEqual([1, 2]);
    sync.calls[1]!.release();
    await second;
    expect(answered).toEqual(["a", "b", "c"]);
    sqlite.close();
  });

  it("counts the time spent running groups, in COMMIT and waiting for syncs (the /metrics counters)", async () => {
    const { sqlite, committer, sync, insert } = setup();
    const busy = (ms: number) => {
      const end = performance.now() + ms;
      while (performance.now() < end);
    };
    const done = committer.run(() => (busy(20), insert.run("slow")));
    await flushed();
    expect(committer.stats.runMs).toBeGreaterThanOrEqual(20);
    expect(committer.stats.runMs).toBeLessThan(1_000);
    expect(committer.stats.commitMs).toBeGreaterThan(0);
    expect(committer.stats.syncMs).toBe(0); // still in flight
    await Bun.sleep(30);
    sync.calls[0]!.release();
    await done;
    expect(committer.stats.syncMs).toBeGreaterThanOrEqual(29);
    const runMs = committer.stats.runMs;
    // A failed sync counts its time too.
    const failing = committer.run(() => insert.run("lost"));
    await flushed();
    await Bun.sleep(10);
    sync.calls[1]!.fail(new Error("EIO"));
    await expect(failing).rejects.toBeInstanceOf(DurabilityError);
    expect(committer.stats.syncMs).toBeGreaterThanOrEqual(38);
    expect(committer.stats.runMs).toBeGreaterThanOrEqual(runMs);
    sqlite.close();
  });

  it("answers several groups committed during one sync with the next single sync", async () => {
    const { sqlite, committer, sync, insert } = setup();
    const p0 = committer.run(() => insert.run("x0"));
    await tick();
    const later = [];
    for (let i = 1; i <= 3; i++) {
      later.push(committer.run(() => insert.run(`x${i}`)));
      await tick(); // each in a group of its own
    }
    expect(committer.stats.groups).toBe(4);
    expect(sync.calls.length).toBe(1);
    sync.calls[0]!.release();
    await p0;
    await tick();
    expect(sync.calls.length).toBe(2);
    expect(sync.calls[1]!.committedBefore).toBe(4);
    sync.calls[1]!.release();
    await Promise.all(later);
    expect(committer.stats.syncs).toBe(2);
    sqlite.close();
  });

  it("answers a group that changed nothing without a sync of its own, once every earlier group is durable", async () => {
    const { sqlite, committer, sync, insert } = setup();
    const read = sqlite.prepare("SELECT count(*) AS n FROM t");
    const answered: string[] = [];
    // Nothing committed before it: answered at once, no sync issued.
    await committer.run(() => read.get());
    expect(sync.calls.length).toBe(0);
    expect(committer.stats.unchanged).toBe(1);

    // A write, then (while its sync is in flight) a group that only reads what the write made:
    // it rides on that sync, never answered before the state it read is durable.
    const w = committer.run(() => insert.run("a")).then(() => answered.push("write"));
    await flushed();
    const r = committer.run(() => (read.get() as { n: number }).n).then((n) => answered.push(`read ${n}`));
    await flushed();
    expect(sync.calls.length).toBe(1);
    expect(answered).toEqual([]);
    // A write after the read still gets the next sync right after this one (the read started none).
    const w2 = committer.run(() => insert.run("b")).then(() => answered.push("write 2"));
    await flushed();
    expect(sync.calls.length).toBe(1);
    sync.calls[0]!.release();
    await Promise.all([w, r]);
    expect(answered).toEqual(["write", "read 1"]);
    await tick();
    expect(sync.calls.length).toBe(2);
    expect(sync.calls[1]!.committedBefore).toBe(4);

    // A refusal whose write was rolled back to its savepoint counts as a change (a sync, to be safe),
    // and so does DDL, which changes no row.
    const refused = committer.run(() => {
      insert.run("c");
      throw new Error("refused after writing");
    });
    await flushed();
    const ddl = committer.run(() => sqlite.run("CREATE TABLE IF NOT EXISTS u (x)"));
    await flushed();
    expect(committer.stats.unchanged).toBe(2);
    sync.calls[1]!.release();
    await w2;
    await tick();
    expect(sync.calls.length).toBe(3);
    sync.calls[2]!.release();
    await expect(refused).rejects.toThrow("refused after writing");
    await ddl;
    expect(answered).toEqual(["write", "read 1", "write 2"]);
    sqlite.close();
  });

  it("fails a group that changed nothing when the sync it rides on fails", async () => {
    const { sqlite, committer, sync, insert } = setup();
    const w = committer.run(() => insert.run("a")).then(() => "answered", (e) => e);
    await flushed();
    const r = committer.run(() => sqlite.query("SELECT 1").get()).then(() => "answered", (e) => e);
    await flushed();
    sync.calls[0]!.fail(new Error("EIO"));
    expect(await w).toBeInstanceOf(DurabilityError);
    expect(await r).toBeInstanceOf(DurabilityError);
    sqlite.close();
  });

  it("stops accepting writes after a failed sync and fails what that sync would have answered", async () => {
    const { sqlite, committer, sync, insert } = setup();
    const p = committer.run(() => insert.run("y"));
    await tick();
    sync.calls[0]!.fail(new Error("EIO"));
    await expect(p).rejects.toBeInstanceOf(DurabilityError);
    await expect(committer.run(() => insert.run("z"))).rejects.toBeInstanceOf(DurabilityError);
    sqlite.close();
  });
});

describe("a process killed right after acknowledgements", () => {
  for (const via of ["sync thread", "pool"]) it(`keeps every write it acknowledged, and the file is intact (WAL synced on the ${via})`, async () => {
    const path = join(freshDir(), "k.db");
    const setupDb = new Sqlite(path);
    setupDb.exec("PRAGMA journal_mode = WAL");
    setupDb.exec("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT NOT NULL UNIQUE)");
    setupDb.close();
    const child = Bun.spawn(["bun", join(import.meta.dir, "ack-writer.ts"), path, via === "pool" ? "pool" : "thread"], { stdout: "pipe", stderr: "inherit" });
    const acked: string[] = [];
    const reader = child.stdout.getReader();
    const decoder = new TextDecoder();
    let rest = "";
    // Long enough for the sync thread to be up (it starts once syncs come 20 times a second).
    while (acked.length < 6000) {
      const { value, done } = await reader.read();
      if (done) break;
      const lines = (rest + decoder.decode(value)).split("\n");
      rest = lines.pop()!;
      acked.push(...lines);
    }
    child.kill("SIGKILL");
    expect(await child.exited).not.toBe(0);
    expect(acked.length).toBeGreaterThanOrEqual(6000);

    const after = new Sqlite(path);
    expect(after.query("PRAGMA integrity_check").get()).toEqual({ integrity_check: "ok" });
    const rows = new Set((after.query("SELECT v FROM t").all() as { v: string }[]).map((r) => r.v));
    expect(acked.filter((v) => !rows.has(v))).toEqual([]);
    after.close();
  }, 30_000);
});

describe("checkpoints", () => {
  it("copy the WAL into the database file from the worker while the writer never checkpoints", async () => {
    const database = openDatabase(join(freshDir(), "c.db"), { migrate: false });
    toClose.push(database);
    expect(database.sqlite.query("PRAGMA wal_autocheckpoint").get()).toEqual({ wal_autocheckpoint: 0 });
    expect(database.sqlite.query("PRAGMA synchronous").get()).toEqual({ synchronous: 1 }); // NORMAL
    database.sqlite.exec("CREATE TABLE t (v TEXT)");
    const sizeBefore = statSync(database.path).size;
    const insert = database.sqlite.prepare("INSERT INTO t (v) VALUES (?)");
    const blob = "x".repeat(1000);
    await Promise.all(Array.from({ length: 2000 }, () => database.committer.run(() => insert.run(blob))));
    const deadline = Date.now() + 20_000;
    const done = () => statSync(database.path).size > sizeBefore + 1_000_000 && database.checkpoints()!.checkpoints > 0;
    while (!done() && Date.now() < deadline) await Bun.sleep(20);
    expect(statSync(database.path).size).toBeGreaterThan(sizeBefore + 1_000_000);
    expect(database.checkpoints()!.checkpoints).toBeGreaterThan(0);
  }, 30_000);
});

describe("holding the writer", () => {
  it("starts no group while held, commits what queued once released, and never outlasts close", async () => {
    const sqlite = new Sqlite(join(freshDir(), "h.db"));
    sqlite.exec("PRAGMA journal_mode = WAL");
    sqlite.exec("CREATE TABLE t (v TEXT NOT NULL)");
    const committer = createCommitter(sqlite);
    const insert = sqlite.prepare("INSERT INTO t (v) VALUES (?)");
    const count = () => (sqlite.query("SELECT count(*) AS n FROM t").get() as { n: number }).n;
    const release = committer.hold();
    let answered = 0;
    const queued = ["a", "b"].map((v) => committer.run(() => insert.run(v)).then(() => answered++));
    await flushed();
    expect(count()).toBe(0);
    expect(answered).toBe(0);
    expect(committer.stats.groups).toBe(0);
    release();
    release(); // a second call does nothing
    await Promise.all(queued);
    expect(count()).toBe(2);
    expect(committer.stats.groups).toBe(1); // both in one group

    committer.hold(); // never released: close commits what was accepted
    const last = committer.run(() => insert.run("c"));
    await flushed();
    expect(count()).toBe(2);
    await committer.close();
    await last;
    expect(count()).toBe(3);
    sqlite.close();
  });
});

describe("the WAL under a steady stream of single commits", () => {
  // Each commit is awaited before the next (one writer, no pause): every PASSIVE checkpoint ends
  // behind, so without a hold the WAL never starts again and the file grows by every commit.
  async function stream(walRestartMb: number, ms: number) {
    const database = openDatabase(join(freshDir(), `s-${walRestartMb}.db`), { migrate: false, walRestartMb });
    database.sqlite.exec("CREATE TABLE t (id INTEGER PRIMARY KEY, a TEXT, b TEXT, c INTEGER)");
    database.sqlite.exec("CREATE INDEX t_a ON t (a); CREATE INDEX t_b ON t (b); CREATE INDEX t_c ON t (c)");
    const insert = database.sqlite.prepare("INSERT INTO t (a, b, c) VALUES (?, ?, ?)");
    const wal = () => statSync(`${database.path}-wal`).size;
    const t0 = Date.now();
    let commits = 0;
    let sizeAtLastSecond: number | undefined;
    while (Date.now() - t0 < ms) {
      const r = Math.random();
      await database.committer.run(() => insert.run(r.toString(36), (r * 7).toString(36), Math.floor(r * 1e9)));
      commits++;
      if (sizeAtLastSecond === undefined && Date.now() - t0 >= ms - 1000) sizeAtLastSecond = wal();
    }
    const grewLastSecond = wal() - sizeAtLastSecond!;
    const rows = (database.sqlite.query("SELECT count(*) AS n FROM t").get() as { n: number }).n;
    const stats = database.checkpoints()!;
    await database.close();
    return { commits, rows, grewLastSecond, stats };
  }

  it("starts the WAL again (the file stops growing) when the worker may hold the writer, and loses no commit", async () => {
    const held = await stream(0.25, 3000); // 64 frames of 4 KiB pages
    const never = await stream(0, 3000);
    expect(held.rows).toBe(held.commits);
    expect(never.rows).toBe(never.commits);
    expect(held.stats.holds).toBeGreaterThan(0);
    expect(held.stats.restarts).toBeGreaterThan(0);
    expect(held.grewLastSecond).toBeLessThan(2_000_000);
    // The control: the same stream with no hold grows the file all along — unless the writer
    // paused long enough (a GC, a loaded machine) for a pass to catch up by itself, which the
    // worker counts as a restart; then the file may be refilling from the top.
    console.log(`WAL growth in the last second: held ${held.grewLastSecond} B (${held.stats.holds} holds, ${held.stats.restarts} restarts), never ${never.grewLastSecond} B (${never.stats.restarts} restarts)`);
    expect(never.stats.holds).toBe(0);
    if (never.stats.restarts === 0) expect(never.grewLastSecond).toBeGreaterThan(2_000_000);
  }, 30_000);
});

describe("the WAL syncer", () => {
  const until = async (what: () => boolean, ms = 10_000) => {
    const deadline = Date.now() + ms;
    while (!what() && Date.now() < deadline) await Bun.sleep(5);
    expect(what()).toBe(true);
  };
  const walFile = () => {
    const wal = join(freshDir(), "x.db-wal");
    writeFileSync(wal, "first");
    return wal;
  };

  for (const thread of [false, true]) {
    it(`notices the file at the path was replaced and syncs the new one (${thread ? "sync thread" : "thread pool"})`, async () => {
      const wal = walFile();
      const syncer = createWalSyncer(wal, { thread, startAfter: 1 });
      await syncer.sync();
      // With a thread, the next syncs are its (the replacement is then seen beside its sync).
      if (thread) await until(() => syncer.via === "thread");
      else expect(syncer.via).toBe("pool");
      await syncer.sync();
      expect(syncer.reopens).toBe(0);
      writeFileSync(`${wal}.new`, "second");
      renameSync(`${wal}.new`, wal); // a new inode at the same path
      // Several syncs at once that all find it replaced: one reopen.
      await Promise.all([syncer.sync(), syncer.sync(), syncer.sync()]);
      expect(syncer.reopens).toBe(1);
      await syncer.sync();
      if (thread) {
        // The thread that held the old file was replaced by one that holds the new file.
        await until(() => syncer.via === "thread");
        await syncer.sync();
        expect(syncer.thread.starts).toBe(2);
      }
      expect(syncer.reopens).toBe(1);
      await syncer.close();
    });
  }

  it("keeps lone syncs on the pool and starts its thread once syncs come often", async () => {
    const syncer = createWalSyncer(walFile(), { startAfter: 5 });
    for (let i = 0; i < 4; i++) await syncer.sync();
    await Bun.sleep(100);
    expect(syncer.thread.starts).toBe(0); // four within a second: not yet
    await syncer.sync();
    expect(syncer.thread.starts).toBe(1);
    await until(() => syncer.via === "thread");
    await syncer.close();
  });

  it("answers every one of many syncs asked at once from its thread", async () => {
    const syncer = createWalSyncer(walFile(), { startAfter: 1 });
    await syncer.sync();
    await until(() => syncer.via === "thread");
    const order: number[] = [];
    await Promise.all(Array.from({ length: 200 }, (_, i) => syncer.sync().then(() => order.push(i))));
    expect(order).toEqual(Array.from({ length: 200 }, (_, i) => i)); // answered in the order asked
    expect(syncer.thread).toEqual({ starts: 1, stops: 0, lost: false });
    await syncer.close();
  });

  it("stops its thread when idle and starts one again with the next sync, answering meanwhile through the pool", async () => {
    const syncer = createWalSyncer(walFile(), { idleMs: 40, startAfter: 1 });
    await syncer.sync();
    await until(() => syncer.via === "thread");
    await syncer.sync();
    await until(() => syncer.thread.stops === 1);
    expect(syncer.via).toBe("pool");
    await syncer.sync(); // through the pool; a new thread starts
    await until(() => syncer.via === "thread");
    await syncer.sync();
    expect(syncer.thread.starts).toBe(2);
    await syncer.close();
  });

  /** A syncer whose thread is wal-sync-worker.faults.ts with `fault`, up from its first sync. */
  const faulty = (walPath: string, fault: "fail" | "die" | "throw") =>
    createWalSyncer(walPath, { workerScript: join(import.meta.dir, "wal-sync-worker.faults.ts"), workerData: { fault }, startAfter: 1 });

  for (const fault of ["die", "throw"] as const) {
    it(`goes on through the pool when its thread ${fault === "die" ? "exits" : "throws"}, answering the sync the thread took with it`, async () => {
      const syncer = faulty(walFile(), fault);
      await syncer.sync();
      await until(() => syncer.via === "thread");
      await syncer.sync(); // the thread's first: answered by it
      await syncer.sync(); // its second: it ends with it unanswered, and the pool answers
      expect(syncer.thread.lost).toBe(true);
      expect(syncer.via).toBe("pool");
      await syncer.sync();
      await Bun.sleep(50);
      expect(syncer.thread.starts).toBe(1); // a lost thread is not started again
      await syncer.close();
    });
  }

  it("fails the syncs whose fdatasync failed, and the committer stops taking writes", async () => {
    const path = join(freshDir(), "f.db");
    const sqlite = new Sqlite(path);
    sqlite.exec("PRAGMA journal_mode = WAL");
    sqlite.exec("PRAGMA synchronous = NORMAL");
    sqlite.exec("CREATE TABLE t (v TEXT)");
    const syncer = faulty(`${path}-wal`, "fail");
    const committer = createCommitter(sqlite, { durable: syncer.sync });
    const insert = sqlite.prepare("INSERT INTO t (v) VALUES (?)");
    await committer.run(() => insert.run("through the pool"));
    await until(() => syncer.via === "thread");
    const failed = committer.run(() => insert.run("not durable"));
    await expect(failed).rejects.toBeInstanceOf(DurabilityError);
    await expect(failed).rejects.toThrow("EIO");
    await expect(committer.run(() => insert.run("after"))).rejects.toBeInstanceOf(DurabilityError);
    await committer.close();
    await syncer.close();
    sqlite.close();
  });
});

describe("the checkpoint worker", () => {
  it("starts a few ticks after the first change, stops when idle, and starts again with the next change", async () => {
    const path = join(freshDir(), "w.db");
    const db = new Sqlite(path);
    db.exec("PRAGMA journal_mode = WAL");
    db.exec("PRAGMA wal_autocheckpoint = 0");
    db.exec("CREATE TABLE t (v TEXT)");
    const insert = db.prepare("INSERT INTO t (v) VALUES (?)");
    const lost: unknown[] = [];
    const cp = startCheckpointer(path, (e) => lost.push(e), { intervalMs: 20, idleMs: 200 });
    const until = async (what: () => boolean) => {
      const deadline = Date.now() + 20_000;
      while (!what() && Date.now() < deadline) await Bun.sleep(10);
      expect(what()).toBe(true);
    };
    expect(cp.stats().starts).toBe(0); // nothing changed yet: no worker
    insert.run("a");
    cp.committed();
    cp.committed();
    expect(cp.stats().starts).toBe(0); // not at once: five ticks (100 ms) later, once
    await until(() => cp.stats().starts === 1);
    await until(() => cp.stats().checkpoints >= 1);
    const ticks = () => cp.stats().ticks;
    // Idle: the worker stops (its ticks stop), then a new change starts a new one.
    await until(() => {
      const before = ticks();
      Bun.sleepSync(100);
      return ticks() === before;
    });
    insert.run("b");
    cp.committed();
    await until(() => cp.stats().starts === 2);
    await until(() => cp.stats().checkpoints >= 2);
    await cp.close();
    expect(lost).toEqual([]);
    db.close();
  }, 30_000);
});
