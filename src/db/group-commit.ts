import type { Database as Sqlite } from "bun:sqlite";
import { failpoint } from "../core/failpoints.ts";

/**
 * Group commit: writes submitted while a transaction is being prepared share that
 * transaction, and each caller is answered only after the commit that holds it is durable on
 * disk. This is how durable writes reach thousands per second.
 *
 * With a `durable` function (the WAL syncer, see client.ts and README.md) the COMMIT only
 * writes the WAL and durability comes from a sync issued off the JavaScript thread: groups
 * committed while a sync is in flight wait for the next one, and one sync answers every group
 * committed before it began. Without it, COMMIT itself is durable (synchronous=FULL) and
 * callers are answered right after it.
 */
export interface Committer {
  /** Runs `work` inside the next group transaction; resolves with its result after the durable commit. */
  run<T>(work: () => T): Promise<T>;
  /** Waits for pending groups and their syncs, then refuses new work. */
  close(): Promise<void>;
  /**
   * Figures for benchmarks and /metrics: groups committed, operations they held, syncs issued,
   * ms spent on this thread running groups' operations (`runMs`) and in their COMMIT
   * (`commitMs`), ms from each sync's start to its answer (`syncMs`: off this thread, summed),
   * and groups that changed nothing (so needed no sync of their own).
   */
  readonly stats: CommitterStats;
}

export interface CommitterStats {
  groups: number;
  operations: number;
  syncs: number;
  runMs: number;
  commitMs: number;
  syncMs: number;
  unchanged: number;
}

/** The SQLite committer, which the checkpointer can also hold (see `hold`). */
export interface SqliteCommitter extends Committer {
  /**
   * Starts no new group until the returned function is called (once; later calls do nothing).
   * Writes keep queueing meanwhile and commit together afterwards; groups already committed
   * still sync and are answered. The checkpoint worker holds the writer for the moment it needs
   * to finish a checkpoint that a never-ending stream of commits would otherwise keep behind
   * (checkpointer.ts); nothing blocks the event loop. `close` ends every hold.
   */
  hold(): () => void;
}

export interface CommitterOptions {
  /** Makes every COMMIT that returned before the call durable; resolves when it is. */
  durable?: () => Promise<void>;
  /** Called after each committed group that changed something (the checkpointer's counter). */
  committed?: () => void;
  /**
   * Give every group a sync of its own, even one that changed nothing (the former behaviour,
   * kept for comparison in bench/claim-path.ts). Default false.
   */
  syncUnchanged?: boolean;
}

interface Pending {
  work: () => unknown;
  resolve: (value: unknown) => void;
  reject: (error: unknown) => void;
}

/** A committed group's answers, delivered once its commit is durable. */
interface Settled {
  group: Pending[];
  results: { ok: boolean; value: unknown }[];
}

/** Maximum operations in one transaction; a larger backlog is split over several commits. */
const MAX_GROUP = 4096;

export class CommitterClosedError extends Error {
  constructor() {
    super("the database is closing; no new writes are accepted");
    this.name = "CommitterClosedError";
  }
}

/** A failed sync leaves the file's state on disk unknown: the committer stops (fail-stop). */
export class DurabilityError extends Error {
  constructor(cause: unknown) {
    super(`the write-ahead log could not be synced to disk; no further writes are accepted: ${String(cause)}`, { cause });
    this.name = "DurabilityError";
  }
}

export function createCommitter(sqlite: Sqlite, options: CommitterOptions = {}): SqliteCommitter {
  const { durable, committed, syncUnchanged = false } = options;
  let queue: Pending[] = [];
  let scheduled = false;
  let closed = false;
  let broken: DurabilityError | undefined;
  /** Groups committed, not yet covered by a sync that began after their COMMIT. */
  let unsynced: Settled[] = [];
  let syncing = false;
  /** The groups the sync in flight will answer (while `syncing`). */
  let inflight: Settled[] = [];
  let quiet: (() => void)[] = [];
  /** Holds in force (hold()); no group starts while there is one. */
  const holds = new Set<object>();
  const stats: CommitterStats = { groups: 0, operations: 0, syncs: 0, runMs: 0, commitMs: 0, syncMs: 0, unchanged: 0 };
  // Every operation runs in its own savepoint, and SQLite copies each page an operation first
  // touches into a sub-journal so the savepoint can be undone. Kept in a temp FILE (the
  // default) that copy more than doubles the cost of a row write; in memory it is cheap. The
  // sub-journal is never needed after a crash (the WAL is what recovers), so durability is
  // unchanged. (Measured in bench/results/*-tasks.md.)
  sqlite.exec("PRAGMA temp_store = MEMORY");
  const begin = sqlite.prepare("BEGIN IMMEDIATE");
  const commit = sqlite.prepare("COMMIT");
  const rollback = sqlite.prepare("ROLLBACK");
  const savepoint = sqlite.prepare("SAVEPOINT op");
  const release = sqlite.prepare("RELEASE op");
  const rollbackTo = sqlite.prepare("ROLLBACK TO op");
  // Whether a group changed anything: rows (total_changes counts every row an INSERT, UPDATE or
  // DELETE touched on this connection, including rows of statements later rolled back to a
  // savepoint, which errs on the side of a sync) or the schema (DDL changes no row count).
  const totalChanges = sqlite.prepare("SELECT total_changes() AS n");
  const schemaVersion = sqlite.prepare("PRAGMA schema_version");
  const track = durable !== undefined || committed !== undefined;
  const changeMark = (): string => `${(totalChanges.get() as { n: number }).n}/${(schemaVersion.get() as { schema_version: number }).schema_version}`;

  /** Runs the queue in a later turn: setImmediate lets every request that arrived in this turn join the group. */
  function schedule(): void {
    if (scheduled || queue.length === 0) return;
    scheduled = true;
    setImmediate(flush);
  }

  function flush(): void {
    scheduled = false;
    while (queue.length > 0 && holds.size === 0) {
      const group = queue.length > MAX_GROUP ? queue.splice(0, MAX_GROUP) : queue;
      if (group === queue) queue = [];
      runGroup(group);
    }
    if (unsynced.length > 0 && !syncing) startSync();
    settleQuiet();
  }

  function settle(s: Settled): void {
    const { group, results } = s;
    for (let i = 0; i < group.length; i++) {
      const r = results[i]!;
      if (r.ok) group[i]!.resolve(r.value);
      else group[i]!.reject(r.value);
    }
  }

  function startSync(): void {
    syncing = true;
    const batch = unsynced;
    inflight = batch;
    unsynced = [];
    stats.syncs++;
    const began = performance.now();
    durable!().then(
      () => {
        stats.syncMs += performance.now() - began;
        syncing = false;
        inflight = [];
        for (const s of batch) settle(s);
        if (unsynced.length > 0) startSync();
        settleQuiet();
      },
      (error) => {
        stats.syncMs += performance.now() - began;
        broken ??= new DurabilityError(error);
        for (const s of [...batch, ...unsynced]) for (const p of s.group) p.reject(broken);
        unsynced = [];
        syncing = false;
        inflight = [];
        settleQuiet();
      },
    );
  }

  function settleQuiet(): void {
    if (scheduled || syncing || unsynced.length > 0 || queue.length > 0) return;
    const waiting = quiet;
    quiet = [];
    for (const w of waiting) w();
  }

  function runGroup(group: Pending[]): void {
    if (broken) {
      for (const p of group) p.reject(broken);
      return;
    }
    const results: { ok: boolean; value: unknown }[] = [];
    let before = "";
    let after = "";
    try {
      begin.run();
      // Read inside the transaction, where both are a fraction of a µs (outside, the schema
      // cookie costs a read transaction of its own, ~3 µs).
      if (track) before = changeMark();
    } catch (error) {
      for (const p of group) p.reject(error);
      return;
    }
    const ran = performance.now();
    for (let i = 0; i < group.length; i++) {
      // A savepoint per operation: one failing operation is undone alone, the group goes on.
      savepoint.run();
      try {
        results[i] = { ok: true, value: group[i]!.work() };
        release.run();
      } catch (error) {
        rollbackTo.run();
        release.run();
        results[i] = { ok: false, value: error };
      }
      // Work submitted by the group's own operations (a create that wakes the dispatcher, whose
      // claim round is an operation too) joins this transaction instead of waiting for the next
      // commit: one fsync, not two, between an enqueue and its push to a waiting worker. Each
      // is still answered after the commit that holds it.
      if (i === group.length - 1 && queue.length > 0 && group.length < MAX_GROUP) {
        for (const p of queue.splice(0, MAX_GROUP - group.length)) group.push(p);
      }
    }
    const t0 = performance.now();
    stats.runMs += t0 - ran;
    try {
      // (db.sync, the slow-disk failpoint, is where the fsync is: wal-sync.ts off the loop, or this COMMIT with sync "in-commit".)
      if (!durable) failpoint("db.sync");
      failpoint("db.commit.before");
      if (track) after = changeMark();
      commit.run();
      stats.commitMs += performance.now() - t0;
    } catch (error) {
      try {
        rollback.run();
      } catch {
        // The transaction is already gone; nothing to undo.
      }
      for (const p of group) p.reject(error);
      return;
    }
    stats.groups++;
    stats.operations += group.length;
    failpoint("db.commit.after");
    const settled: Settled = { group, results };
    const changed = !track || after !== before;
    if (!durable) {
      if (changed) committed?.();
      settle(settled);
      return;
    }
    if (!changed && !syncUnchanged) {
      // Nothing changed (a dispatch round that found nothing to claim, an operation refused
      // after its reads): the COMMIT wrote no frame to the WAL, so there is nothing of this group
      // to sync. What it read must be durable before it is answered, though: it waits for every
      // group committed before it, riding on their sync (unsynced ones or the one in flight), and
      // is answered at once when all of those are already durable. It never starts a sync of its
      // own, so it cannot delay the sync of a write that arrives just after it.
      stats.unchanged++;
      if (unsynced.length > 0) unsynced.push(settled);
      else if (syncing) inflight.push(settled);
      else settle(settled);
      return;
    }
    committed?.();
    // Answered only once durable: with a syncer, after a sync that begins after this COMMIT
    // returned (startSync is only ever called after the COMMITs of the groups it takes).
    unsynced.push(settled);
  }

  return {
    stats,
    run<T>(work: () => T): Promise<T> {
      if (closed) return Promise.reject(new CommitterClosedError());
      if (broken) return Promise.reject(broken);
      return new Promise<T>((resolve, reject) => {
        queue.push({ work, resolve: resolve as (v: unknown) => void, reject });
        schedule();
      });
    },
    hold() {
      const token = {};
      holds.add(token);
      return () => {
        if (holds.delete(token) && holds.size === 0) schedule();
      };
    },
    async close() {
      closed = true;
      // What was accepted still commits: a hold does not outlast the close.
      holds.clear();
      schedule();
      if (scheduled || syncing || unsynced.length > 0 || queue.length > 0) await new Promise<void>((r) => quiet.push(r));
    },
  };
}
