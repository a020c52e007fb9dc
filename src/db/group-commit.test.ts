import { afterEach, describe, expect, it } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openDatabase, type Database } from "./client.ts";

let dir: string;
let database: Database;

function open(): Database {
  dir = mkdtempSync(join(tmpdir(), "switchyard-db-"));
  database = openDatabase(join(dir, "switchyard.db"));
  database.sqlite.exec("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT NOT NULL UNIQUE)");
  return database;
}

afterEach(async () => {
  await database?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe("group commit", () => {
  it("answers every write of a burst after one shared commit", async () => {
    const { sqlite, committer } = open();
    const insert = sqlite.prepare("INSERT INTO t (v) VALUES (?) RETURNING id");
    const ids = await Promise.all(
      Array.from({ length: 500 }, (_, i) => committer.run(() => (insert.get(`v${i}`) as { id: number }).id)),
    );
    expect(new Set(ids).size).toBe(500);
    expect(committer.stats.groups).toBe(1);
    expect(committer.stats.operations).toBe(500);
  });

  it("undoes a failing operation alone and commits the rest of its group", async () => {
    const { sqlite, committer } = open();
    const insert = sqlite.prepare("INSERT INTO t (v) VALUES (?)");
    const results = await Promise.allSettled([
      committer.run(() => insert.run("a")),
      committer.run(() => {
        insert.run("b");
        insert.run("a"); // violates UNIQUE: this whole operation, "b" included, is undone
      }),
      committer.run(() => insert.run("c")),
    ]);
    expect(results.map((r) => r.status)).toEqual(["fulfilled", "rejected", "fulfilled"]);
    const rows = sqlite.query("SELECT v FROM t ORDER BY v").all() as { v: string }[];
    expect(rows.map((r) => r.v)).toEqual(["a", "c"]);
  });

  it("has committed to the file when it answers: a second connection sees the write", async () => {
    const { sqlite, committer, path } = open();
    await committer.run(() => sqlite.prepare("INSERT INTO t (v) VALUES ('durable')").run());
    const other = openDatabase(path, { migrate: false });
    expect(other.sqlite.query("SELECT count(*) AS n FROM t").get()).toEqual({ n: 1 });
    await other.close();
  });

  it("refuses new work after close", async () => {
    const { committer } = open();
    await committer.close();
    await expect(committer.run(() => 1)).rejects.toThrow("closing");
  });
});

describe("two processes on one database file", () => {
  it("interleave their writes without losing or corrupting any", async () => {
    const { path, sqlite } = open();
    const writers = ["a", "b", "c"].map((tag) =>
      Bun.spawn(["bun", join(import.meta.dir, "writer-process.ts"), path, tag, "2000"], { stderr: "inherit" }),
    );
    expect(await Promise.all(writers.map((w) => w.exited))).toEqual([0, 0, 0]);
    expect(sqlite.query("SELECT count(*) AS n FROM t").get()).toEqual({ n: 6000 });
    expect(sqlite.query("PRAGMA integrity_check").get()).toEqual({ integrity_check: "ok" });
  }, 30_000);
});
