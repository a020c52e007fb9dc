import { readFileSync, statSync, statfsSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { AppError } from "../core/errors.ts";
import type { Clock } from "../core/clock.ts";
import type { Committer } from "./group-commit.ts";

/** What is wrong with the storage right now, if anything. */
export interface StorageFault {
  reason: "STORAGE_FULL" | "STORAGE_READ_ONLY" | "STORAGE_UNAVAILABLE";
  message: string;
  since: number;
  /** A vanished database file does not come back by itself: writes stay refused until restart. */
  permanent: boolean;
}

/** Watches the database's storage: classifies write failures, reports them to health, bounds the backlog. */
export interface StorageGuard {
  /** The committer every domain writes through, with faults classified and the backlog bounded. */
  wrap(committer: Committer): Committer;
  readonly fault: StorageFault | undefined;
  /** Writes refused, by reason, since start. */
  readonly refused: Readonly<Record<string, number>>;
  /** Operations submitted and not yet answered. */
  readonly pending: number;
  /** Looks for a vanished or replaced database file (called by a timer and by health). */
  check(): void;
  close(): void;
}

interface SqliteLikeError {
  code?: string;
  errno?: number;
  message?: string;
}

/**
 * Maps what SQLite (or the file system under it) said to the error a client gets: a full disk
 * is `resource_exhausted`/STORAGE_FULL, a read-only or vanished store `unavailable`. Other
 * errors (constraint violations, domain errors) are not storage faults and pass through.
 */
export function classifyStorageError(error: unknown): AppError | undefined {
  if (error instanceof AppError) return undefined;
  const e = error as SqliteLikeError;
  const code = e?.code ?? "";
  const text = `${code} ${e?.message ?? ""}`;
  if (code === "SQLITE_FULL" || /SQLITE_FULL|database or disk is full|ENOSPC|no space left/i.test(text)) {
    return new AppError("resource_exhausted", "STORAGE_FULL", "the disk holding the database is full: the write was not applied; reads still work", { engine: "sqlite" });
  }
  if (code.startsWith("SQLITE_READONLY") || /readonly database|read-only file system|EROFS/i.test(text)) {
    return new AppError("unavailable", "STORAGE_READ_ONLY", "the database's storage is read-only: the write was not applied; reads still work", { engine: "sqlite" });
  }
  if (code.startsWith("SQLITE_IOERR") || code === "SQLITE_CANTOPEN" || /disk I\/O error|unable to open database/i.test(text)) {
    return new AppError("unavailable", "STORAGE_UNAVAILABLE", "the database's storage failed an I/O operation: the write was not applied", { engine: "sqlite" });
  }
  return undefined;
}

/**
 * Whether the file system holding `path` is mounted read-only, including the kernel's
 * emergency read-only remount after an I/O error (ext4 `errors=remount-ro`), read from
 * /proc/self/mountinfo. False when it cannot tell.
 */
export function isReadOnlyMount(path: string): boolean {
  try {
    const target = resolve(dirname(path));
    let best: { point: string; ro: boolean } | undefined;
    for (const line of readFileSync("/proc/self/mountinfo", "utf8").split("\n")) {
      const [left, right] = line.split(" - ");
      if (!left || !right) continue;
      const fields = left.split(" ");
      const point = (fields[4] ?? "").replace(/\\040/g, " ");
      if (!(target === point || target.startsWith(point.endsWith("/") ? point : point + "/"))) continue;
      const options = new Set([...(fields[5] ?? "").split(","), ...(right.split(" ")[2] ?? "").split(",")]);
      if (!best || point.length > best.point.length) best = { point, ro: options.has("ro") || options.has("emergency_ro") };
    }
    return best?.ro ?? false;
  } catch {
    return false;
  }
}

/** Bytes free for this process on the file system holding `path`; undefined when unknown. */
export function freeBytes(path: string): number | undefined {
  try {
    const s = statfsSync(dirname(resolve(path)));
    return Number(s.bavail) * Number(s.bsize);
  } catch {
    return undefined;
  }
}

/**
 * Below this much free space a full disk is still reported as full even when a small write
 * fits (SQLite reuses WAL pages it already holds, and background writes are small): health
 * does not flap between full and operational while the disk stays full.
 */
const FULL_UNTIL_FREE_BYTES = 4 * 1024 * 1024;

export interface StorageGuardOptions {
  path: string;
  clock: Clock;
  /** Most write operations waiting for their commit; beyond it writes are refused (a slow disk). */
  maxPending: number;
  /** Called when the fault state changes (health watchers). */
  onChange?: () => void;
}

export function createStorageGuard(options: StorageGuardOptions): StorageGuard {
  const { path, clock } = options;
  const identity = (): string | undefined => {
    try {
      const s = statSync(path);
      return `${s.dev}:${s.ino}`;
    } catch {
      return undefined;
    }
  };
  const opened = path === ":memory:" ? undefined : identity();
  let fault: StorageFault | undefined;
  let pending = 0;
  const refused: Record<string, number> = {};

  const set = (next: StorageFault | undefined) => {
    if (fault?.permanent) return;
    if ((fault?.reason ?? "") === (next?.reason ?? "")) return;
    fault = next;
    options.onChange?.();
  };

  function check(): void {
    if (opened === undefined || fault?.permanent) return;
    const now = identity();
    if (now !== opened) {
      set({
        reason: "STORAGE_UNAVAILABLE",
        message: now === undefined ? `database file ${path} was removed while the server ran` : `database file ${path} was replaced while the server ran`,
        since: clock.now(),
        permanent: true,
      });
    }
  }

  const timer = opened === undefined ? undefined : setInterval(check, 1000);
  timer?.unref?.();

  const refuse = (error: AppError): AppError => {
    refused[error.reason] = (refused[error.reason] ?? 0) + 1;
    return error;
  };

  return {
    get fault() {
      return fault;
    },
    refused,
    get pending() {
      return pending;
    },
    check,
    close() {
      if (timer) clearInterval(timer);
    },
    wrap(committer) {
      return {
        stats: committer.stats,
        close: () => committer.close(),
        run<T>(work: () => T): Promise<T> {
          if (fault?.permanent) {
            return Promise.reject(refuse(new AppError("unavailable", "STORAGE_UNAVAILABLE", `${fault.message}: writes are refused until the server restarts on intact storage`, { engine: "sqlite" })));
          }
          if (pending >= options.maxPending) {
            return Promise.reject(
              refuse(new AppError("resource_exhausted", "WRITES_BACKLOGGED", `${pending} writes are waiting for the disk; retry later`, { pending: String(pending), limit: String(options.maxPending) })),
            );
          }
          pending++;
          return committer.run(work).then(
            (value) => {
              pending--;
              if (fault && !fault.permanent) {
                const free = fault.reason === "STORAGE_FULL" ? freeBytes(path) : undefined;
                if (free === undefined || free >= FULL_UNTIL_FREE_BYTES) set(undefined);
              }
              return value;
            },
            (error: unknown) => {
              pending--;
              let storage = classifyStorageError(error);
              if (!storage) throw error;
              // SQLite reports a file system gone read-only as a plain I/O error: say which it is.
              if (storage.reason === "STORAGE_UNAVAILABLE" && isReadOnlyMount(path)) {
                storage = new AppError("unavailable", "STORAGE_READ_ONLY", "the file system holding the database went read-only (mounted read-only, or remounted after an I/O error): the write was not applied; reads still work", { engine: "sqlite" });
              }
              set({ reason: storage.reason as StorageFault["reason"], message: storage.message, since: clock.now(), permanent: false });
              throw refuse(storage);
            },
          );
        },
      };
    },
  };
}
