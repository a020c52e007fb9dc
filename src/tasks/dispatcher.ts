import type { Clock } from "../core/clock.ts";
import { newId } from "../core/ids.ts";
import type { OpDatabase, Tx } from "../db/dialect.ts";
import type { Op } from "../db/op.ts";
import type { TaskRow } from "./store.ts";
import type { Assignment, CancelReason, TaskEventKind, WorkerMessage } from "./types.ts";

type EventBuffer = { kind: TaskEventKind; row: TaskRow; prev: number | undefined }[];

/** A connected worker stream. */
export interface WorkerSession {
  id: string;
  /** Sessions claim only their tenant's tasks. */
  tenant: string;
  workerId: string;
  queues: string[];
  /** JSON array of the worker's capabilities, as the claim query wants it. */
  capsJson: string;
  /** Tasks it may still receive. */
  credits: number;
  leaseMs: number;
  send: (message: WorkerMessage) => void;
  closed: boolean;
}

export interface DispatcherDeps {
  clock: Clock;
  database: OpDatabase;
  pingIntervalMs: number;
  /** Claims up to n ready tasks for the session; an operation inside the group transaction. */
  claim: (tx: Tx, session: WorkerSession, n: number, now: number, ev: EventBuffer, round: Map<string, unknown>) => Op<TaskRow[]>;
  /** Gives back tasks claimed for a session that closed before they could be pushed. */
  release: (rows: TaskRow[]) => void;
  emit: (ev: EventBuffer) => void;
  toAssignment: (row: TaskRow) => Assignment;
  /** Picks the session a dispatch round serves first, among those with credits (undefined: in turn). */
  chooseFirst?: (sessions: WorkerSession[]) => WorkerSession | undefined;
}

/** Most tasks claimed for one session in one dispatch round (more rounds follow if needed). */
const ROUND = 1000;

/**
 * Pushes ready tasks to worker streams. A dispatch round is one operation in the group
 * commit: it claims for every session that has credits (in rotating order, so sessions share
 * the load), and the tasks are pushed only after the commit that claimed them. Rounds are
 * coalesced: `kick()` while a round is queued and not yet started does nothing, because that
 * round will see the new work.
 */
export function createDispatcher(deps: DispatcherDeps) {
  const sessions = new Map<string, WorkerSession>();
  /** Task id → the session it was pushed to and the fencing token it was pushed with. */
  const inflight = new Map<string, { session: WorkerSession; token: number }>();
  let queued = false;
  let rotation = 0;
  let rounds = 0;

  const hasCredits = (): boolean => {
    for (const s of sessions.values()) if (s.credits > 0) return true;
    return false;
  };

  function close(s: WorkerSession): void {
    if (s.closed) return;
    s.closed = true;
    sessions.delete(s.id);
    for (const [id, f] of inflight) if (f.session === s) inflight.delete(id);
  }

  function send(s: WorkerSession, m: WorkerMessage): boolean {
    if (s.closed) return false;
    try {
      s.send(m);
      return true;
    } catch {
      close(s);
      return false;
    }
  }

  /** Undoes what a dispatch round did to sessions (it was rolled back, or is being retried). */
  function undo(claimed: [WorkerSession, TaskRow[]][]): void {
    for (const [s, rows] of claimed) {
      s.credits += rows.length;
      for (const r of rows) inflight.delete(r.id);
    }
  }

  function kick(): void {
    if (queued || !hasCredits()) return;
    queued = true;
    // Set by the latest run of the round's operation: on PostgreSQL a deadlock retries the
    // operation, so each run starts from scratch, undoing what the previous run did to sessions.
    let claimed: [WorkerSession, TaskRow[]][] = [];
    let ev: EventBuffer = [];
    let again = false;
    deps.database
      .write(function* (tx) {
        undo(claimed);
        claimed = [];
        ev = [];
        again = false;
        queued = false;
        rounds++;
        const now = deps.clock.now();
        const list = [...sessions.values()];
        // What the round's claims share (a tenant's paused queues…): read once per round.
        const memo = new Map<string, unknown>();
        // Which session is served first: the chooser's pick (the servers domain's load
        // balancer), else in turn.
        const chosen = list.length > 1 && deps.chooseFirst ? deps.chooseFirst(list.filter((x) => !x.closed && x.credits > 0)) : undefined;
        const start = list.length ? (chosen ? Math.max(0, list.indexOf(chosen)) : rotation++ % list.length) : 0;
        for (let i = 0; i < list.length; i++) {
          const s = list[(start + i) % list.length]!;
          if (s.closed || s.credits <= 0) continue;
          const want = Math.min(s.credits, ROUND);
          const rows = yield* deps.claim(tx, s, want, now, ev, memo);
          if (rows.length === 0) continue;
          s.credits -= rows.length;
          for (const r of rows) inflight.set(r.id, { session: s, token: r.fencing_token });
          claimed.push([s, rows]);
          if (rows.length === ROUND && s.credits > 0) again = true;
        }
      })
      .then(
        () => {
          deps.emit(ev);
          for (const [s, rows] of claimed) {
            let i = 0;
            for (; i < rows.length; i++) if (!send(s, { kind: "assigned", assignment: deps.toAssignment(rows[i]!) })) break;
            if (i < rows.length) {
              const rest = rows.slice(i);
              for (const r of rest) inflight.delete(r.id);
              deps.release(rest);
            }
          }
          if (again) kick();
        },
        () => {
          // The round was rolled back: nothing was claimed, so give the credits back.
          queued = false;
          undo(claimed);
          claimed = [];
        },
      );
  }

  return {
    kick,
    hasCredits,

    /** Whether a stream here serves `queue` of `tenant` (with credits or not). */
    serves(tenant: string, queue: string): boolean {
      for (const s of sessions.values()) if (s.tenant === tenant && s.queues.includes(queue)) return true;
      return false;
    },

    /** Registers a session and sends its info first. */
    connect(
      opts: { tenant: string; workerId: string; queues: string[]; capsJson: string; credits: number; leaseMs: number },
      sendFn: (m: WorkerMessage) => void,
    ): { sessionId: string; close(): void } {
      const s: WorkerSession = { id: newId("wses"), ...opts, send: sendFn, closed: false };
      sessions.set(s.id, s);
      send(s, { kind: "session", sessionId: s.id, pingIntervalMs: deps.pingIntervalMs, serverTime: deps.clock.now(), credits: s.credits });
      kick();
      return { sessionId: s.id, close: () => close(s) };
    },

    /** Adds credits; answers the session's credits, or throws SESSION_NOT_FOUND. */
    grant(tenant: string, sessionId: string, credits: number): number {
      const s = sessions.get(sessionId);
      if (!s || s.tenant !== tenant) throw sessionNotFound(sessionId);
      s.credits += credits;
      kick();
      return s.credits;
    },

    /** A holder ended a pushed task (complete, fail, release): free its credit. */
    taskDone(taskId: string, token: number): void {
      const f = inflight.get(taskId);
      if (!f || f.token !== token) return;
      inflight.delete(taskId);
      if (!f.session.closed) {
        f.session.credits++;
        kick();
      }
    },

    /** The server took a pushed task away: tell the worker and free its credit. */
    cancelNotice(taskId: string, token: number, reason: CancelReason): void {
      const f = inflight.get(taskId);
      if (!f || f.token !== token) return;
      inflight.delete(taskId);
      if (send(f.session, { kind: "cancel", taskId, fencingToken: token, reason })) {
        f.session.credits++;
        kick();
      }
    },

    ping(): void {
      const now = deps.clock.now();
      for (const s of [...sessions.values()]) send(s, { kind: "ping", serverTime: now, credits: s.credits });
    },

    closeAll(): void {
      for (const s of [...sessions.values()]) close(s);
    },

    state: () => ({
      sessions: [...sessions.values()].map((s) => ({ id: s.id, tenant: s.tenant, workerId: s.workerId, credits: s.credits, queues: s.queues })),
      inflight: inflight.size,
      rounds,
    }),
  };
}

import { AppError } from "../core/errors.ts";
function sessionNotFound(id: string): AppError {
  return new AppError("not_found", "SESSION_NOT_FOUND", `worker session not found: ${id}`, { session_id: id });
}
