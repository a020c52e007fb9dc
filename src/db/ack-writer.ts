// A process that writes through the group committer and prints each row's id on stdout the
// moment its write is acknowledged (used by the SIGKILL test in durability.test.ts).
import { openDatabase } from "./client.ts";

const path = process.argv[2]!;
// "pool": the WAL synced on Bun's thread pool instead of the sync thread.
const database = openDatabase(path, { migrate: false, walSyncThread: process.argv[3] !== "pool" });
const insert = database.sqlite.prepare("INSERT INTO t (v) VALUES (?)");
let next = 0;
// 32 writers, each writing its next row as soon as the previous one is acknowledged.
async function writer(): Promise<never> {
  for (;;) {
    const v = `row-${next++}`;
    await database.committer.run(() => insert.run(v));
    process.stdout.write(`${v}\n`);
  }
}
for (let i = 0; i < 32; i++) void writer();
