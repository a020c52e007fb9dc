// The checkpointer's thread (see checkpointer.ts): a second connection to the database that
// copies the WAL back into the database file. A checkpoint fsyncs the WAL, then the database
// file; here those waits block only this thread, never the one serving requests.
import { Database } from "bun:sqlite";
import { parentPort, workerData } from "node:worker_threads";

const { path, commits, intervalMs } = workerData as { path: string; commits: SharedArrayBuffer; intervalMs: number };
const counter = new Int32Array(commits);
const db = new Database(path, { readwrite: true, create: false });
// PASSIVE never waits for the writer and never takes its lock, so the busy handler is not
// involved; NORMAL still makes the checkpoint fsync the WAL before copying and the database
// file before the WAL may be reused.
db.exec("PRAGMA synchronous = NORMAL");
db.exec("PRAGMA wal_autocheckpoint = 0");
const checkpoint = db.prepare("PRAGMA wal_checkpoint(PASSIVE)");
// Groups committed before this thread started count too.
let seen = 0;
let stopped = false;

function tick(): void {
  if (stopped) return;
  Atomics.add(counter, 3, 1);
  const now = Atomics.load(counter, 0);
  let again = false;
  if (now !== seen) {
    seen = now;
    try {
      const r = checkpoint.get() as { busy: number; log: number; checkpointed: number };
      Atomics.add(counter, 1, 1);
      // Not everything copied (a reader held an old snapshot): try again soon.
      again = r.checkpointed < r.log;
    } catch {
      Atomics.add(counter, 2, 1);
      again = true; // SQLITE_BUSY from another checkpointer; the next tick retries
    }
  }
  if (again) seen = now - 1;
  setTimeout(tick, intervalMs);
}

parentPort!.on("message", (m: string) => {
  if (m !== "stop") return;
  if (stopped) return;
  stopped = true;
  try {
    db.close();
  } finally {
    parentPort!.postMessage("stopped");
  }
});
parentPort!.postMessage("ready");
setTimeout(tick, intervalMs);
