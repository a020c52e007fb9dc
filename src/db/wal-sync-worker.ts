// The WAL sync thread (wal-sync.ts). It sleeps in Atomics.wait until the main thread counts a
// new request, fdatasyncs the WAL, and answers with the count it read before the sync began:
// that sync covers every request up to it (each was made after its COMMIT returned). No event
// loop turns here while it sleeps: a request costs the main thread one Atomics.notify, and the
// answer one message. The main thread checks the path's inode (wal-sync.ts), not this thread.
import { closeSync, fdatasyncSync, fstatSync, openSync } from "node:fs";
import { parentPort, workerData } from "node:worker_threads";
import { REQUESTS, STOP } from "./wal-sync-control.ts";

const { control, walPath } = workerData as { control: SharedArrayBuffer; walPath: string };
const ctl = new Int32Array(control);
const port = parentPort!;

const fd = openSync(walPath, "r");
let seen = Atomics.load(ctl, REQUESTS);
port.postMessage({ kind: "ready", ino: fstatSync(fd).ino });

// The stop may come before this thread first waits: look at it before each wait, and after.
while (Atomics.load(ctl, STOP) !== 1) {
  Atomics.wait(ctl, REQUESTS, seen);
  if (Atomics.load(ctl, STOP) === 1) break;
  const upTo = Atomics.load(ctl, REQUESTS);
  try {
    fdatasyncSync(fd);
    port.postMessage({ kind: "synced", upTo });
  } catch (error) {
    port.postMessage({ kind: "failed", upTo, message: String(error) });
  }
  seen = upTo;
}
closeSync(fd);
