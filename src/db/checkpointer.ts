import { Worker } from "node:worker_threads";

/**
 * Checkpoints the WAL from a worker thread. The write connection runs with
 * `wal_autocheckpoint = 0`, so its COMMITs never checkpoint (and never fsync the database file)
 * on the request thread; the worker looks at a shared commit counter every `intervalMs` and,
 * when groups were committed since its last look, runs a PASSIVE checkpoint on its own
 * connection. Once the WAL is wholly copied back, the writer starts it again from the top.
 */
export interface Checkpointer {
  /** Called by the committer after each committed group (an atomic add, no message). */
  committed(): void;
  /** Figures: checkpoints run, checkpoints that failed (busy), looks at the counter. */
  stats(): { checkpoints: number; failed: number; ticks: number };
  close(): Promise<void>;
}

/** `onLost` runs if the worker dies on its own (the caller then checkpoints on its own thread). */
export function startCheckpointer(path: string, onLost: (error: unknown) => void, intervalMs = 200): Checkpointer {
  const commits = new SharedArrayBuffer(16);
  const counter = new Int32Array(commits);
  const worker = new Worker(new URL("./checkpoint-worker.ts", import.meta.url), { workerData: { path, commits, intervalMs } });
  worker.unref();
  let exited = false;
  let ready = false;
  let closing = false;
  worker.once("exit", (code) => {
    exited = true;
    if (!closing) onLost(new Error(`checkpoint worker exited with code ${code}`));
  });
  worker.once("message", () => (ready = true));
  worker.on("error", (error) => {
    if (!closing) onLost(error);
  });
  return {
    committed() {
      Atomics.add(counter, 0, 1);
    },
    stats() {
      return { checkpoints: Atomics.load(counter, 1), failed: Atomics.load(counter, 2), ticks: Atomics.load(counter, 3) };
    },
    async close() {
      closing = true;
      if (exited) return;
      if (!ready) {
        // Still loading: it has opened nothing worth closing cleanly.
        await worker.terminate();
        return;
      }
      const stopped = new Promise<void>((resolve) => {
        worker.on("message", (m) => m === "stopped" && resolve());
        worker.once("exit", () => resolve());
      });
      worker.postMessage("stop");
      await Promise.race([stopped, new Promise((r) => setTimeout(r, 2000))]);
      await worker.terminate();
    },
  };
}
