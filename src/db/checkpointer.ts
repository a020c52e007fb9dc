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
 * A steady stream of commits keeps every PASSIVE checkpoint a little behind, so the writer
 * would never find the WAL wholly copied and the file would grow without end; once it holds
 * `restartFrames` frames the worker asks `hold` (the committer's) to start no group for the
 * moment it copies the rest (checkpoint-worker.ts), bounded by `maxHoldMs`.
 *
 * The worker (a JavaScript VM of its own, ~8.5 MB) starts a few ticks after the first committed
 * change and stops after `idleMs` without one, so an idle server does not keep it.
 */
export interface CheckpointerOptions {
  intervalMs?: number;
  idleMs?: number;
  /** Holds the writer (SqliteCommitter.hold); without it the WAL is never started again under steady writes. */
  hold?: () => () => void;
  /** Frames in the WAL from which the worker asks for a hold (default 4096: 16 MiB of 4 KiB pages). */
  restartFrames?: number;
  /** Longest hold, whatever the worker does meanwhile (default 250 ms). */
  maxHoldMs?: number;
}

export interface Checkpointer {
  /** Called by the committer after each group that changed something (an atomic add, no message). */
  committed(): void;
  /**
   * Figures: checkpoints run, checkpoints that failed (busy), looks at the counter, worker
   * starts, holds of the writer and the ms they lasted, times the WAL was seen started again.
   */
  stats(): CheckpointStats;
  close(): Promise<void>;
}

export interface CheckpointStats {
  checkpoints: number;
  failed: number;
  ticks: number;
  starts: number;
  holds: number;
  holdMs: number;
  restarts: number;
}

interface Running {
  worker: Worker;
  ready: boolean;
  exited: boolean;
  stopping: boolean;
}

/** `onLost` runs if the worker dies on its own (the caller then checkpoints on its own thread). */
export function startCheckpointer(path: string, onLost: (error: unknown) => void, options: CheckpointerOptions = {}): Checkpointer {
  const { intervalMs = 200, idleMs = 5_000, hold, restartFrames = 4096, maxHoldMs = 250 } = options;
  const commits = new SharedArrayBuffer(32);
  const counter = new Int32Array(commits);
  let current: Running | undefined;
  let closing = false;
  let lost = false;
  let starts = 0;
  let lastChange = 0;
  let holds = 0;
  let holdMs = 0;
  /** The hold in force: its release and when it began. */
  let held: { release: () => void; since: number; timer: ReturnType<typeof setTimeout> } | undefined;
  const endHold = () => {
    if (!held) return;
    clearTimeout(held.timer);
    held.release();
    holdMs += performance.now() - held.since;
    held = undefined;
  };
  // The worker starts a few ticks after the first change, not with it: a checkpoint is never
  // urgent (the WAL only grows meanwhile), and at a server's first start the first writes come
  // while it is still starting, on the same two cores.
  let spawnTimer: ReturnType<typeof setTimeout> | undefined;
  const spawnDelayMs = Math.min(1_000, intervalMs * 5);

  function spawn(): void {
    spawnTimer = undefined;
    if (current || closing || lost) return;
    starts++;
    // Without a writer to hold, the worker never asks (restartFrames beyond any WAL).
    const worker = new Worker(join(SRC_DIR, "db", "checkpoint-worker.ts"), { workerData: { path, commits, intervalMs, restartFrames: hold ? restartFrames : Number.MAX_SAFE_INTEGER } });
    worker.unref();
    const r: Running = { worker, ready: false, exited: false, stopping: false };
    current = r;
    worker.once("message", () => (r.ready = true));
    worker.on("message", (m: unknown) => {
      const kind = typeof m === "object" && m !== null ? (m as { kind?: string }).kind : undefined;
      if (kind === "hold" && hold && !held && !closing && !r.stopping) {
        holds++;
        held = { release: hold(), since: performance.now(), timer: setTimeout(endHold, maxHoldMs) };
        worker.postMessage({ kind: "held" });
      } else if (kind === "release") endHold();
    });
    worker.once("exit", (code) => {
      r.exited = true;
      endHold();
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
    endHold();
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
      return {
        checkpoints: Atomics.load(counter, 1),
        failed: Atomics.load(counter, 2),
        ticks: Atomics.load(counter, 3),
        starts,
        holds,
        holdMs: Math.round(holdMs),
        restarts: Atomics.load(counter, 4),
      };
    },
    async close() {
      closing = true;
      endHold();
      clearInterval(idleCheck);
      if (spawnTimer) clearTimeout(spawnTimer);
      if (current) await stop(current);
    },
  };
}
