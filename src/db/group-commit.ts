import type { Database as Sqlite } from "bun:sqlite";
import { failpoint } from "../core/failpoints.ts";

/**
 * Group commit: writes submitted while a transaction is being prepared share that
 * transaction, and each caller is answered only after the COMMIT (one fsync for the whole
 * group) has returned. This is how durable writes reach thousands per second.
 */
export interface Committer {
  /** Runs `work` inside the next group transaction; resolves with its result after commit. */
  run<T>(work: () => T): Promise<T>;
  /** Waits for pending groups, then refuses new work. */
  close(): Promise<void>;
  /** Figures for benchmarks: groups committed and operations they held. */
  readonly stats: { groups: number; operations: number };
}

interface Pending {
  work: () => unknown;
  resolve: (value: unknown) => void;
  reject: (error: unknown) => void;
}

/** Maximum operations in one transaction; a larger backlog is split over several commits. */
const MAX_GROUP = 4096;

export class CommitterClosedError extends Error {
  constructor() {
    super("the database is closing; no new writes are accepted");
    this.name = "CommitterClosedError";
  }
}

export function createCommitter(sqlite: Sqlite): Committer {
  let queue: Pending[] = [];
  let scheduled = false;
  let closed = false;
  let idle: Promise<void> = Promise.resolve();
  let markIdle: () => void = () => {};
  const stats = { groups: 0, operations: 0 };
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

  function flush(): void {
    scheduled = false;
    while (queue.length > 0) {
      const group = queue.length > MAX_GROUP ? queue.splice(0, MAX_GROUP) : queue;
      if (group === queue) queue = [];
      runGroup(group);
    }
    markIdle();
  }

  function runGroup(group: Pending[]): void {
    const results: { ok: boolean; value: unknown }[] = [];
    try {
      begin.run();
    } catch (error) {
      for (const p of group) p.reject(error);
      return;
    }
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
    try {
      failpoint("db.sync");
      failpoint("db.commit.before");
      commit.run();
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
    for (let i = 0; i < group.length; i++) {
      const r = results[i]!;
      if (r.ok) group[i]!.resolve(r.value);
      else group[i]!.reject(r.value);
    }
  }

  return {
    stats,
    run<T>(work: () => T): Promise<T> {
      if (closed) return Promise.reject(new CommitterClosedError());
      return new Promise<T>((resolve, reject) => {
        queue.push({ work, resolve: resolve as (v: unknown) => void, reject });
        if (!scheduled) {
          scheduled = true;
          idle = new Promise((r) => (markIdle = r));
          // setImmediate lets every request that arrived in this turn of the loop join the group.
          setImmediate(flush);
        }
      });
    },
    async close() {
      closed = true;
      if (scheduled) await idle;
    },
  };
}
