// The checkpointer's thread (see checkpointer.ts): a second connection to the database that
// copies the WAL back into the database file. A checkpoint fsyncs the WAL, then the database
// file; here those waits block only this thread, never the one serving requests.
import { Database } from "bun:sqlite";
import { closeSync, openSync, readSync } from "node:fs";
import { parentPort, workerData } from "node:worker_threads";

const { path, commits, intervalMs, restartFrames } = workerData as { path: string; commits: SharedArrayBuffer; intervalMs: number; restartFrames: number };
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
/**
 * The WAL header's checkpoint sequence number (bytes 12–15), which the writer increments each
 * time it starts the WAL again from the top: a change between two passes is a restart.
 */
const header = new Uint8Array(16);
function walSequence(): number | undefined {
  let fd: number | undefined;
  try {
    fd = openSync(`${path}-wal`, "r");
    if (readSync(fd, header, 0, 16, 0) < 16) return undefined;
    return new DataView(header.buffer).getUint32(12);
  } catch {
    return undefined; // no WAL file (yet)
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}
let lastSequence = walSequence();
/** While the writer is asked to hold (see below): the timer that gives up waiting for it. */
let awaitingHold: ReturnType<typeof setTimeout> | undefined;
/** No new hold before this time (after one that did not let the WAL start again). */
let noHoldUntil = 0;
/** The sequence when the writer was last held, until the next pass tells whether it restarted. */
let heldAt: number | undefined;

type Pass = { busy: number; log: number; checkpointed: number };

function pass(): Pass | undefined {
  try {
    const r = checkpoint.get() as Pass;
    Atomics.add(counter, 1, 1);
    return r;
  } catch {
    Atomics.add(counter, 2, 1);
    return undefined; // SQLITE_BUSY from another checkpointer; the next tick retries
  }
}

// A PASSIVE checkpoint copies the frames committed before it began, but the writer only starts
// the WAL again from the top when, at the start of a write, every frame is already copied back.
// Under a steady stream of commits that moment never comes (each pass ends behind the commits
// made during it), and the WAL grows without end: measured 100 MB in 20 s of single creates.
// So when the WAL holds `restartFrames` or more, this thread asks the writer to hold its next
// group (the request thread only queues writes meanwhile; it never blocks), copies what is
// left, and lets it go: the next write starts the WAL again. After a hold that did not restart
// the WAL (another process's reader on an old snapshot), none is asked for 5 s.
function tick(): void {
  if (stopped || awaitingHold) return;
  Atomics.add(counter, 3, 1);
  const now = Atomics.load(counter, 0);
  let again = false;
  if (now !== seen) {
    seen = now;
    const r = pass();
    const sequence = walSequence();
    if (sequence !== undefined && sequence !== lastSequence) Atomics.add(counter, 4, 1); // started again
    if (heldAt !== undefined) {
      if (sequence === heldAt) noHoldUntil = Date.now() + 5_000;
      heldAt = undefined;
    }
    lastSequence = sequence;
    // Not everything copied (a reader held an old snapshot): try again soon.
    again = !r || r.checkpointed < r.log;
    if (r && r.log >= restartFrames && Date.now() >= noHoldUntil) {
      heldAt = sequence;
      parentPort!.postMessage({ kind: "hold" });
      // The writer answers at once; if it does not (it is closing), carry on without it.
      awaitingHold = setTimeout(() => {
        awaitingHold = undefined;
        tick();
      }, 1_000);
      return;
    }
  }
  if (again) seen = now - 1;
  setTimeout(tick, intervalMs);
}

parentPort!.on("message", (m: string | { kind: string }) => {
  if (typeof m === "object" && m.kind === "held") {
    if (!awaitingHold || stopped) return;
    clearTimeout(awaitingHold);
    awaitingHold = undefined;
    const r = pass();
    parentPort!.postMessage({ kind: "release" });
    if (r && r.checkpointed < r.log) seen = Atomics.load(counter, 0) - 1;
    setTimeout(tick, intervalMs);
    return;
  }
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
