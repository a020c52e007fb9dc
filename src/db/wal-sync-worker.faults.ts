// A WAL sync thread that goes wrong, for src/db/durability.test.ts: with `fault: "fail"` it
// answers every request with a failed sync; with `fault: "die"` it exits on its second request,
// unanswered, and with `fault: "throw"` an uncaught error ends it there. Same protocol as
// wal-sync-worker.ts.
import { fstatSync, openSync } from "node:fs";
import { parentPort, workerData } from "node:worker_threads";
import { REQUESTS, STOP } from "./wal-sync-control.ts";

const { control, walPath, fault } = workerData as { control: SharedArrayBuffer; walPath: string; fault: "fail" | "die" | "throw" };
const ctl = new Int32Array(control);
const fd = openSync(walPath, "r");
let seen = Atomics.load(ctl, REQUESTS);
let requests = 0;
parentPort!.postMessage({ kind: "ready", ino: fstatSync(fd).ino });
while (Atomics.load(ctl, STOP) !== 1) {
  Atomics.wait(ctl, REQUESTS, seen);
  if (Atomics.load(ctl, STOP) === 1) break;
  const upTo = Atomics.load(ctl, REQUESTS);
  requests++;
  if (fault === "die" && requests === 2) process.exit(3);
  if (fault === "throw" && requests === 2) throw new Error("the sync thread broke");
  if (fault === "fail") parentPort!.postMessage({ kind: "failed", upTo, message: "Error: EIO: i/o error, fdatasync" });
  else parentPort!.postMessage({ kind: "synced", upTo });
  seen = upTo;
}
