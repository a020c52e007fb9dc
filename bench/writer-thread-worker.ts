// The worker side of bench/writer-thread.ts: the same transactions as the main-thread mode, on a
// connection of its own, answering each batch's rows by postMessage (structured clone).
import { Database as Sqlite } from "bun:sqlite";
import { parentPort, workerData } from "node:worker_threads";
import { runBatch, type Batch } from "./writer-thread.ts";

const sqlite = new Sqlite(workerData.path as string, { strict: true });
const run = runBatch(sqlite);
parentPort!.on("message", (batch: Batch) => parentPort!.postMessage(run(batch)));
