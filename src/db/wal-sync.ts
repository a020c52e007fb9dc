import { close, fdatasync, open, stat, statSync } from "node:fs";
import { join } from "node:path";
import { Worker } from "node:worker_threads";
import { failpointAsync } from "../core/failpoints.ts";
import { SRC_DIR } from "../core/paths.ts";
import { CONTROL_BYTES, REQUESTS, STOP } from "./wal-sync-control.ts";

/**
 * Makes the write-ahead log durable without blocking the JavaScript thread: `sync()` resolves
 * when the kernel reports every byte written to the `-wal` file before the call as on disk. It
 * covers every transaction COMMITted (with synchronous=NORMAL, a commit is a `write()` into the
 * WAL) before `sync()` was called, by this connection or any other process's: fdatasync flushes
 * the file's pages, whoever wrote them.
 *
 * Where the fdatasync runs: on a thread of its own (wal-sync-worker.ts) that sleeps in
 * Atomics.wait between requests: a request costs this thread one Atomics.notify, the answer one
 * message. node:fs's asynchronous fdatasync on Bun's thread pool (`thread: false`) costs about
 * the same for a lone sync, and more of the loop's time under load (src/db/README.md). The thread
 * starts once syncs come `startAfter` times within a second (until it is up they, and any lone
 * sync, go through the pool) and stops after `idleMs` without one, so an idle server does not
 * keep it; if it dies, every later sync goes through the pool, and the syncs it had not
 * answered are issued again there.
 *
 * Descriptors are kept open across calls. SQLite keeps one WAL inode while any connection is
 * open (ours is), but if the file was ever replaced (deleted by a last closer elsewhere and
 * created anew), a check of the path's inode beside each sync (on this thread: a few µs, no
 * disk I/O) notices it; the new file is synced before the call resolves, and the thread, which
 * holds the old one, is replaced. The old file's content was checkpointed into the database (and
 * that fsync'd) by whoever deleted it.
 */
export interface WalSyncer {
  sync(): Promise<void>;
  close(): Promise<void>;
  /** Times the file at the path was found replaced and reopened. */
  readonly reopens: number;
  /** Where the next sync goes: the sync thread, or the pool (before it is up, after it stopped or was lost). */
  readonly via: "thread" | "pool";
  /** The sync thread's starts and idle stops, and whether it was lost (died on its own). */
  readonly thread: { starts: number; stops: number; lost: boolean };
}

export interface WalSyncOptions {
  /** fdatasync on a thread of its own (default true); false: on Bun's thread pool. */
  thread?: boolean;
  /** The sync thread stops after this long without a sync (ms, default 10000). */
  idleMs?: number;
  /** Syncs within one second after which the thread starts (default 20): a lone sync now and then stays on the pool. */
  startAfter?: number;
  /** The thread's script (tests give one that fails or dies); default wal-sync-worker.ts. */
  workerScript?: string;
  /** Passed to that script with the control buffer and the path. */
  workerData?: Record<string, unknown>;
}

interface Handle {
  fd: number;
  ino: number;
}

const openFile = (path: string) =>
  new Promise<Handle>((resolve, reject) =>
    open(path, "r", (error, fd) => {
      if (error) return reject(error);
      stat(path, { bigint: false }, (e2, s) => (e2 ? (close(fd, () => {}), reject(e2)) : resolve({ fd, ino: s.ino })));
    }),
  );
const datasync = (fd: number) => new Promise<void>((resolve, reject) => fdatasync(fd, (e) => (e ? reject(e) : resolve())));
/**
 * The inode at the path, looked up on this thread: a stat of a file whose directory entry is in
 * the kernel's cache (SQLite writes it all the time) does no disk I/O and answers in a few µs,
 * with no hop to the thread pool and back and no callback to run on this thread later (both
 * measured in bench/results/*-claim-path.md), once per sync.
 */
const inodeOf = (path: string): number | undefined => {
  try {
    return statSync(path).ino;
  } catch {
    return undefined;
  }
};

/** Syncs through node:fs's asynchronous fdatasync, which Bun runs on its thread pool. */
function createPoolSyncer(walPath: string, replaced: () => void) {
  let handle: Handle | undefined;
  let opening: Promise<Handle> | undefined;

  async function current(): Promise<Handle> {
    if (handle) return handle;
    opening ??= openFile(walPath).finally(() => (opening = undefined));
    handle = await opening;
    return handle;
  }

  /**
   * Drops the descriptor: the next sync opens the file at the path. The old one is closed only
   * with the syncer (a replacement is rare): a sync that already holds it may not have issued
   * its fdatasync yet, and a closed number could be reused by another file meanwhile.
   */
  const stale: number[] = [];
  const forget = () => {
    if (handle) stale.push(handle.fd);
    handle = undefined;
  };

  return {
    forget,
    async sync() {
      const h = await current();
      const synced = datasync(h.fd);
      const ino = inodeOf(walPath);
      await synced;
      if (ino !== undefined && ino !== h.ino) {
        // The file at the path is not the one synced: sync the one SQLite writes now (the
        // first sync to see it counts the reopen).
        if (handle === h) {
          replaced();
          forget();
        }
        const fresh = await current();
        await datasync(fresh.fd);
      }
    },
    async close() {
      const fds = stale.splice(0);
      if (handle) fds.push(handle.fd);
      handle = undefined;
      await Promise.all(fds.map((fd) => new Promise<void>((resolve) => close(fd, () => resolve()))));
    },
  };
}

interface Waiter {
  /** The request's number: answered by the first sync that read a count at or past it. */
  n: number;
  resolve: () => void;
  reject: (error: unknown) => void;
}

interface SyncThread {
  worker: Worker;
  ctl: Int32Array;
  /** The inode of the file it holds, once it is up. */
  ino: number | undefined;
  stopping: boolean;
  /** The file at the path is no longer the one it holds. */
  replaced: boolean;
  /** Requests not yet answered, in order. */
  waiters: Waiter[];
  exited: Promise<void>;
}

type ThreadMessage = { kind: "ready"; ino: number } | { kind: "synced"; upTo: number } | { kind: "failed"; upTo: number; message: string };

export function createWalSyncer(walPath: string, options: WalSyncOptions = {}): WalSyncer {
  const useThread = options.thread ?? true;
  const idleMs = options.idleMs ?? 10_000;
  const startAfter = options.startAfter ?? 20;
  let windowStart = 0;
  let windowSyncs = 0;
  /** Whether syncs come often enough to keep a thread for them. */
  const busy = (now: number): boolean => {
    if (now - windowStart > 1_000) {
      windowStart = now;
      windowSyncs = 0;
    }
    return ++windowSyncs >= startAfter;
  };
  let reopens = 0;
  let thread: SyncThread | undefined;
  const pool = createPoolSyncer(walPath, () => {
    reopens++;
    // The thread holds the old file too: a new one opens the file at the path.
    if (thread) void stop(thread);
  });
  let lost = false;
  let closed = false;
  let starts = 0;
  let stops = 0;
  let lastSync = 0;

  function start(): void {
    if (thread || lost || closed || !useThread) return;
    starts++;
    const control = new SharedArrayBuffer(CONTROL_BYTES);
    const script = options.workerScript ?? join(SRC_DIR, "db", "wal-sync-worker.ts");
    const worker = new Worker(script, { workerData: { ...options.workerData, control, walPath } });
    worker.unref();
    let exited!: () => void;
    const t: SyncThread = { worker, ctl: new Int32Array(control), ino: undefined, stopping: false, replaced: false, waiters: [], exited: new Promise<void>((r) => (exited = r)) };
    thread = t;
    worker.on("message", (m: ThreadMessage) => {
      if (m.kind === "ready") t.ino = m.ino;
      else answer(t, m.upTo, m.kind === "failed" ? new Error(m.message) : undefined);
    });
    let ended = false;
    const end = () => {
      if (ended) return;
      ended = true;
      if (thread === t) thread = undefined;
      if (!t.stopping && !closed) lost = true;
      // What it had not answered goes through the pool: a sync that begins now covers it.
      const pending = t.waiters.splice(0);
      if (pending.length > 0) {
        pool.sync().then(
          () => pending.forEach((w) => w.resolve()),
          (e) => pending.forEach((w) => w.reject(e)),
        );
      }
      exited();
    };
    worker.once("exit", end);
    worker.on("error", () => {
      void worker.terminate();
      end();
    });
  }

  function answer(t: SyncThread, upTo: number, error: Error | undefined): void {
    let i = 0;
    while (i < t.waiters.length && t.waiters[i]!.n <= upTo) i++;
    const done = t.waiters.splice(0, i);
    if (t.waiters.length === 0) t.worker.unref();
    for (const w of done) error ? w.reject(error) : w.resolve();
  }

  /** Ends a thread once it has answered what it was asked (it syncs before it reads the stop). */
  function stop(t: SyncThread): Promise<void> {
    if (!t.stopping) {
      t.stopping = true;
      if (thread === t) thread = undefined;
      Atomics.store(t.ctl, STOP, 1);
      Atomics.add(t.ctl, REQUESTS, 1);
      Atomics.notify(t.ctl, REQUESTS);
      const timer = setTimeout(() => void t.worker.terminate(), 5_000);
      timer.unref();
      void t.exited.then(() => clearTimeout(timer));
    }
    return t.exited;
  }

  const idleCheck = useThread
    ? setInterval(
        () => {
          const t = thread;
          if (t && t.ino !== undefined && t.waiters.length === 0 && performance.now() - lastSync > idleMs) {
            stops++;
            void stop(t);
          }
        },
        Math.max(10, Math.min(idleMs / 2, 5_000)),
      )
    : undefined;
  idleCheck?.unref();

  async function viaThread(t: SyncThread & { ino: number }): Promise<void> {
    const n = Atomics.add(t.ctl, REQUESTS, 1) + 1;
    Atomics.notify(t.ctl, REQUESTS);
    if (t.waiters.length === 0) t.worker.ref();
    const answered = new Promise<void>((resolve, reject) => t.waiters.push({ n, resolve, reject }));
    // Checked here while the thread syncs (a stat of a cached entry, no disk I/O).
    const ino = inodeOf(walPath);
    if (!t.replaced && (ino === undefined || ino === t.ino)) return answered;
    // Replaced: what the thread syncs is the old file. Sync the one at the path (through the
    // pool, which opens it afresh), with a new thread later; once for all the syncs that see it.
    if (!t.replaced) {
      t.replaced = true;
      reopens++;
      void stop(t);
      pool.forget();
    }
    await answered;
    await pool.sync();
  }

  return {
    get reopens() {
      return reopens;
    },
    get via() {
      return thread?.ino !== undefined && !thread.stopping ? "thread" : "pool";
    },
    get thread() {
      return { starts, stops, lost };
    },
    async sync() {
      // A slow disk, for fault tests: the stall is where the fsync is, off the loop.
      await failpointAsync("db.sync");
      const now = (lastSync = performance.now());
      const t = thread;
      if (t && t.ino !== undefined && !t.stopping) return viaThread(t as SyncThread & { ino: number });
      const wanted = busy(now);
      await pool.sync();
      // The WAL exists now (the pool opened it): the thread can open it too.
      if (wanted) start();
    },
    async close() {
      closed = true;
      if (idleCheck) clearInterval(idleCheck);
      if (thread) await stop(thread);
      await pool.close();
    },
  };
}
