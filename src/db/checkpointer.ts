import { join } from "node:path";
import { Worker } from "node:worker_threads";
import { SRC_DIR } from "../core/paths.ts";

/**
 * Checkpoints the WAL from a worker thread. The write connection runs with
 * `wal_autocheckpoint = 0`, so its COMMITs never checkpoint (and never fsync the database file)
 * on the request thread; the worker looks at a shared commit counter every `intervalMs` and,
 * when groups were committed since its last look, runs a PASSIVE checkpoint on its own
 * connection. Once the WAL is wholly copied back, the writer starts it again from the top.
 *
 * The worker (a JavaScript VM of its own, ~8.5 MB) starts a few ticks after the first committed
 * change and stops after `idleMs` without one, so an idle server does not keep it.
 */
export interface Checkpointer {
  /** Called by the committer after each group that changed something (an atomic add, no message). */
  committed(): void;
  /** Figures: checkpoints run, checkpoints that failed (busy), looks at the counter, worker starts. */
  stats(): { checkpoints: number; failed: number; ticks: number; starts: number };
  close(): Promise<void>;
}

interface Running {
  worker: Worker;
  ready: boolean;
  exited: boolean;
  stopping: boolean;
}

/** `onLost` runs if the worker dies on its own (the caller then checkpoints on its own thread). */
export function startCheckpointer(path: string, onLost: (error: unknown) => void, intervalMs = 200, idleMs = 5_000): Checkpointer {
  const commits = new SharedArrayBuffer(16);
  const counter = new Int32Array(commits);
  let current: Running | undefined;
  let closing = false;
  let lost = false;
  let starts = 0;
  let lastChange = 0;
  // The worker starts a few ticks after the first change, not with it: a checkpoint is never
  // urgent (the WAL only grows meanwhile), and at a server's first start the first writes come
  // while it is still starting, on the same two cores.
  let spawnTimer: ReturnType<typeof setTimeout> | undefined;
  const spawnDelayMs = Math.min(1_000, intervalMs * 5);

  function spawn(): void {
    spawnTimer = undefined;
    if (current || closing || lost) return;
    starts++;
    const worker = new Worker(join(SRC_DIR, "db", "checkpoint-worker.ts"), { workerData: { path, commits, intervalMs } });
    worker.unref();
    const r: Running = { worker, ready: false, exited: false, stopping: false };
    current = r;
    worker.once("message", () => (r.ready = true));
    worker.once("exit", (code) => {
      r.exited = true;
      if (current === r) current = undefined;
      if (!closing && !r.stopping) {
        lost = true;
        onLost(new Error(`checkpoint worker exited with code ${code}`));
      }
    });
    worker.on("error", (error) => {
      if (!closing && !r.stopping) {
        lost = true;
        onLost(error);
      }
    });
  }

  async function stop(r: Running): Promise<void> {
    r.stopping = true;
    if (current === r) current = undefined;
    if (r.exited) return;
    if (!r.ready) {
      // Still loading: it has opened nothing worth closing cleanly.
      await r.worker.terminate();
      return;
    }
    const stopped = new Promise<void>((resolve) => {
      r.worker.on("message", (m) => m === "stopped" && resolve());
      r.worker.once("exit", () => resolve());
    });
    r.worker.postMessage("stop");
    await Promise.race([stopped, new Promise((res) => setTimeout(res, 2000))]);
    await r.worker.terminate();
  }

  const idleCheck = setInterval(() => {
    // Stopped only once the last changes had time to be checkpointed (several ticks).
    if (current && Date.now() - lastChange > Math.max(idleMs, intervalMs * 5)) void stop(current);
  }, Math.max(50, Math.min(idleMs / 5, 5_000)));
  idleCheck.unref();

  return {
    committed() {
      Atomics.add(counter, 0, 1);
      lastChange = Date.now();
      if (!current && !closing && !lost && !spawnTimer) {
        spawnTimer = setTimeout(spawn, spawnDelayMs);
        spawnTimer.unref?.();
      }
    },
    stats() {
      return { checkpoints: Atomics.load(counter, 1), failed: Atomics.load(counter, 2), ticks: Atomics.load(counter, 3), starts };
    },
    async close() {
      closing = true;
      clearInterval(idleCheck);
      if (spawnTimer) clearTimeout(spawnTimer);
      if (current) await stop(current);
    },
  };
}
