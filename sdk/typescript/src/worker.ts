// The worker half: holds a ConnectWorker stream, runs handlers by task type within a concurrency
// limit, keeps leases alive, reports progress, completes or fails with the fencing token, delivers
// cancellation as an AbortSignal, drains on SIGTERM and reconnects with backoff.
//
// Credits: the server pushes at most as many tasks as the session has credits and gives one back
// itself when a pushed task of that session is completed, failed or released, or when it sends a
// cancel notice. The worker keeps `server credits + tasks in hand == concurrency`: a new session
// starts with the free slots, and a task of an earlier session (before a reconnect) that ends is
// granted back explicitly. Tasks arriving while every slot is busy wait in hand, heartbeated.
import type { JsonValue } from "@bufbuild/protobuf";
import { Code, createClient, type Client, type Transport } from "@connectrpc/connect";
import { CancelReason, TaskState, type Lease, type Task } from "./gen/switchyard/tasks/v1/tasks_pb.js";
import { TaskService } from "./gen/switchyard/tasks/v1/tasks_service_pb.js";
import type { Value } from "@bufbuild/protobuf/wkt";
import { duration, taskInfo, toValue, type TaskInfo } from "./convert.ts";
import { SwitchyardError, TaskFailure, TRANSIENT } from "./errors.ts";

/** What a handler gets. */
export interface TaskContext {
  id: string;
  type: string;
  queue: string;
  payload: JsonValue | undefined;
  attempt: number;
  fencingToken: bigint;
  info: TaskInfo;
  /** Aborted when the task is cancelled, deleted, timed out, its lease is lost, or the worker shuts down; `signal.reason` says which. */
  signal: AbortSignal;
  /** Records progress (0–100); sent at once with a lease heartbeat, without waiting. */
  progress(percent: number, message?: string): void;
}

export type Handler = (task: TaskContext) => Promise<JsonValue | void | undefined> | JsonValue | void | undefined;

export interface WorkerOptions {
  queues: string[];
  workerId?: string;
  /** Most handlers running at once (default 8). */
  concurrency?: number;
  leaseDurationMs?: number;
  capabilities?: string[];
  /** How long running handlers may go on after stop() (default 30 s). */
  drainTimeoutMs?: number;
  heartbeatIntervalMs?: number;
  maxBackoffMs?: number;
  /** Stop (drain) after this many tasks ended. */
  maxTasks?: number;
  /** Install SIGTERM/SIGINT handlers that drain the worker while run() runs (default true where `process` exists). */
  handleSignals?: boolean;
  onEvent?: (kind: string, data: Record<string, unknown>) => void;
}

type State = "waiting" | "running" | "finishing" | "done";
interface Held {
  task: Task;
  lease: Lease;
  session: string;
  state: State;
  abort: AbortController;
  progress?: { percent: number; message?: string };
  lastBeat: number;
  cancelNoticed: boolean;
}

/** A failure of the connection rather than a refusal: transient codes, and "canceled", which
 * connect-node's gRPC transport reports for a stream reset by a dying server (these calls never
 * abort themselves; the SDK's own transport says "unavailable"). */
const connectionLost = (err: SwitchyardError) => TRANSIENT.has(err.code) || err.code === Code.Canceled;
const reasonName = (r: CancelReason) => (CancelReason[r] ?? "CANCELLED").toLowerCase();
const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve) => {
    const t = setTimeout(resolve, ms);
    signal?.addEventListener("abort", () => (clearTimeout(t), resolve()), { once: true });
  });

/** Runs handlers for tasks pushed on a worker stream. */
export class Worker {
  readonly workerId: string;
  readonly concurrency: number;
  readonly stats = { completed: 0, failed: 0, released: 0, refused: 0, sessions: 0, cancelled: 0 };
  /** Ids of tasks whose completion the server accepted. */
  readonly completedIds: string[] = [];
  private readonly client: Client<typeof TaskService>;
  private readonly handlers = new Map<string, Handler>();
  private readonly held = new Map<string, Held>();
  private readonly waiting: Held[] = [];
  private running = 0;
  private session: string | undefined;
  private connecting = false;
  private pendingGrants = 0;
  private finished = 0;
  private stream: AbortController | undefined;
  private readonly stopping = new AbortController();
  private stopped: Promise<void> | undefined;
  private changed: (() => void)[] = [];
  private completions: { req: { id: string; fencingToken: bigint; result?: Value }; resolve: (r: { refused?: SwitchyardError; retried: boolean }) => void }[] = [];
  private flushScheduled = false;
  private loops: Promise<void>[] = [];
  private readonly opts: Required<Omit<WorkerOptions, "maxTasks" | "onEvent" | "workerId">> & Pick<WorkerOptions, "maxTasks" | "onEvent">;

  constructor(transport: Transport, opts: WorkerOptions) {
    if (!opts.queues?.length) throw new Error("queues: at least one queue is required");
    const concurrency = opts.concurrency ?? 8;
    if (concurrency < 1 || concurrency > 10_000) throw new Error("concurrency: 1 to 10,000");
    const leaseDurationMs = opts.leaseDurationMs ?? 30_000;
    this.opts = {
      queues: opts.queues,
      concurrency,
      leaseDurationMs,
      capabilities: opts.capabilities ?? [],
      drainTimeoutMs: opts.drainTimeoutMs ?? 30_000,
      heartbeatIntervalMs: opts.heartbeatIntervalMs ?? Math.max(200, leaseDurationMs / 3),
      maxBackoffMs: opts.maxBackoffMs ?? 5000,
      handleSignals: opts.handleSignals ?? typeof process !== "undefined",
      maxTasks: opts.maxTasks,
      onEvent: opts.onEvent,
    };
    this.concurrency = concurrency;
    this.workerId = opts.workerId ?? `ts-${typeof process !== "undefined" ? process.pid : Math.random().toString(36).slice(2)}`;
    this.client = createClient(TaskService, transport);
  }

  /** Registers a handler for a task type ("*": any type without its own handler). */
  handle(type: string, handler: Handler): this {
    this.handlers.set(type, handler);
    return this;
  }

  /** Starts and resolves once the worker has stopped (stop(), a signal, or maxTasks). */
  async run(): Promise<void> {
    if (this.handlers.size === 0) throw new Error("no handler registered");
    const onSignal = () => void this.stop();
    if (this.opts.handleSignals) {
      process.once("SIGTERM", onSignal);
      process.once("SIGINT", onSignal);
    }
    this.loops = [this.streamLoop(), this.heartbeatLoop()];
    await new Promise<void>((resolve) => this.stopping.signal.addEventListener("abort", () => resolve(), { once: true }));
    await this.stopped;
    if (this.opts.handleSignals) {
      process.off("SIGTERM", onSignal);
      process.off("SIGINT", onSignal);
    }
  }

  /** Stops taking tasks, releases those not started, lets running handlers finish for up to
   * `drainTimeoutMs`, then aborts and releases the rest; closes the stream. */
  stop(timeoutMs = this.opts.drainTimeoutMs): Promise<void> {
    if (this.stopped) return this.stopped;
    this.stopped = (async () => {
      this.stopping.abort();
      this.stream?.abort();
      const notStarted = this.waiting.splice(0).filter((h) => h.state === "waiting");
      for (const h of notStarted) h.state = "finishing";
      await Promise.all(notStarted.map((h) => this.release(h)));
      const deadline = Date.now() + timeoutMs;
      while (this.held.size > 0 && Date.now() < deadline) await this.waitChange(Math.min(100, deadline - Date.now()));
      const left = [...this.held.values()].filter((h) => h.state === "running");
      for (const h of left) h.abort.abort("shutdown");
      await Promise.all(
        left.map(async (h) => {
          if (h.state !== "running") return;
          h.state = "finishing";
          await this.release(h);
        }),
      );
      await Promise.allSettled(this.loops);
    })();
    return this.stopped;
  }

  private emit(kind: string, data: Record<string, unknown>): void {
    try {
      this.opts.onEvent?.(kind, data);
    } catch {
      // an observer must not break the worker
    }
  }

  private notify(): void {
    const c = this.changed;
    this.changed = [];
    for (const f of c) f();
  }

  private waitChange(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(resolve, ms);
      this.changed.push(() => (clearTimeout(t), resolve()));
    });
  }

  // ---------------------------------------------------------------- the stream

  private async streamLoop(): Promise<void> {
    let backoff = 100;
    while (!this.stopping.signal.aborted) {
      while (this.held.size >= this.concurrency && !this.stopping.signal.aborted) await this.waitChange(500);
      if (this.stopping.signal.aborted) return;
      const credits = this.concurrency - this.held.size;
      this.connecting = true;
      this.pendingGrants = 0;
      const ctl = new AbortController();
      this.stream = ctl;
      let gotSession = false;
      try {
        const req = {
          workerId: this.workerId,
          queues: this.opts.queues,
          capabilities: this.opts.capabilities,
          credits,
          leaseDuration: duration(this.opts.leaseDurationMs),
        };
        for await (const m of this.client.connectWorker(req, { signal: ctl.signal })) {
          const msg = m.message;
          if (msg.case === "session") {
            gotSession = true;
            backoff = 100;
            this.onSession(msg.value.sessionId);
          } else if (msg.case === "assigned") {
            this.onAssigned(msg.value.task!, msg.value.lease!);
          } else if (msg.case === "cancel") {
            this.onCancel(msg.value.taskId, msg.value.fencingToken, msg.value.reason);
          }
        }
      } catch (e) {
        if (this.stopping.signal.aborted) break;
        const err = SwitchyardError.from(e);
        if (!TRANSIENT.has(err.code) && err.code !== Code.Canceled) console.error(`switchyard worker: stream refused: ${err.message}`);
      } finally {
        this.session = undefined;
        this.connecting = false;
      }
      if (this.stopping.signal.aborted) break;
      this.emit("disconnected", { hadSession: gotSession });
      await sleep(backoff * (0.5 + Math.random() / 2), this.stopping.signal);
      backoff = Math.min(this.opts.maxBackoffMs, backoff * 2);
    }
  }

  private onSession(id: string): void {
    this.session = id;
    this.connecting = false;
    const grants = this.pendingGrants;
    this.pendingGrants = 0;
    this.stats.sessions++;
    this.emit("session", { session: id });
    if (grants) void this.grant(grants);
  }

  private onAssigned(task: Task, lease: Lease): void {
    const h: Held = { task, lease, session: this.session ?? "", state: "waiting", abort: new AbortController(), lastBeat: Date.now(), cancelNoticed: false };
    const old = this.held.get(task.id);
    if (old) {
      // Redelivered after our lease ran out: the old attempt's token is dead.
      old.abort.abort("lease_expired");
      if (old.state === "waiting") {
        old.state = "done";
        this.waiting.splice(this.waiting.indexOf(old), 1);
      }
    }
    this.held.set(task.id, h);
    if (this.stopping.signal.aborted) {
      h.state = "finishing";
      void this.release(h);
      return;
    }
    this.waiting.push(h);
    this.pump();
  }

  private onCancel(taskId: string, token: bigint, reason: CancelReason): void {
    const h = this.held.get(taskId);
    if (!h || h.lease.fencingToken !== token) return;
    h.cancelNoticed = true;
    this.stats.cancelled++;
    if (h.state === "waiting") {
      h.state = "done";
      this.waiting.splice(this.waiting.indexOf(h), 1);
      this.held.delete(taskId);
      this.notify();
    }
    h.abort.abort(reasonName(reason).replace("cancel_reason_", ""));
    this.emit("cancel", { id: taskId, reason: h.abort.signal.reason });
  }

  private async grant(credits: number): Promise<void> {
    const session = this.session;
    if (!session) {
      if (this.connecting) this.pendingGrants += credits;
      return; // the next session starts with the free slots
    }
    try {
      await this.client.grantWorkerCredits({ sessionId: session, credits });
    } catch {
      // the session is gone; the next one recounts
    }
  }

  // ---------------------------------------------------------------- slots

  private pump(): void {
    while (this.running < this.concurrency && this.waiting.length > 0 && !this.stopping.signal.aborted) {
      const h = this.waiting.shift()!;
      if (h.state !== "waiting") continue;
      h.state = "running";
      this.running++;
      void this.execute(h).finally(() => {
        this.running--;
        this.pump();
      });
    }
  }

  private async execute(h: Held): Promise<void> {
    const handler = this.handlers.get(h.task.type) ?? this.handlers.get("*");
    const info = taskInfo(h.task);
    const ctx: TaskContext = {
      id: h.task.id,
      type: h.task.type,
      queue: h.task.queue,
      payload: info.payload,
      attempt: h.task.attempt,
      fencingToken: h.lease.fencingToken,
      info,
      signal: h.abort.signal,
      progress: (percent, message) => {
        h.progress = { percent: Math.round(percent), message };
        void this.beat(h);
      },
    };
    let outcome: { result: JsonValue | undefined } | { failure: TaskFailure } | { cancelled: true };
    if (!handler) {
      outcome = { failure: new TaskFailure(`no handler for task type ${JSON.stringify(h.task.type)}`, { retryable: false, reason: "HANDLER_NOT_FOUND" }) };
    } else {
      try {
        const result = await handler(ctx);
        outcome = { result: result === undefined ? undefined : (result as JsonValue) };
      } catch (e) {
        if (h.abort.signal.aborted) outcome = { cancelled: true };
        else if (e instanceof TaskFailure) outcome = { failure: e };
        else {
          const err = e instanceof Error ? e : new Error(String(e));
          outcome = { failure: new TaskFailure(`${err.name}: ${err.message}`, { reason: err.name }) };
        }
      }
    }
    if (h.state !== "running") return; // released by the drain meanwhile
    h.state = "finishing";
    if (h.abort.signal.aborted || "cancelled" in outcome) {
      if (h.abort.signal.reason === "shutdown") await this.release(h);
      else this.forget(h, false);
      return;
    }
    if ("failure" in outcome) await this.fail(h, outcome.failure);
    else await this.complete(h, outcome.result);
  }

  // ---------------------------------------------------------------- outcomes

  /** Calls complete/fail/release, retrying while the server is unreachable; answers the refusal, if any. */
  private async finishCall(fn: () => Promise<unknown>, onRetry?: () => void): Promise<SwitchyardError | undefined> {
    let backoff = 50;
    const deadline = Date.now() + Math.max(60_000, this.opts.leaseDurationMs * 2);
    for (;;) {
      try {
        await fn();
        return undefined;
      } catch (e) {
        const err = SwitchyardError.from(e);
        if (!connectionLost(err) || Date.now() > deadline) return err;
        onRetry?.();
      }
      await sleep(backoff * (0.5 + Math.random() / 2));
      // Retries stay well inside the lease, so an outcome lands before the lease runs out.
      backoff = Math.min(this.opts.maxBackoffMs, this.opts.leaseDurationMs / 4, backoff * 2);
    }
  }

  private async complete(h: Held, result: JsonValue | undefined): Promise<void> {
    let value;
    try {
      value = result === undefined ? undefined : toValue(result);
    } catch (e) {
      return this.fail(h, new TaskFailure(`result is not JSON: ${String(e)}`, { retryable: false, reason: "RESULT_NOT_JSON" }));
    }
    let { refused, retried } = await this.completeBatched({ id: h.task.id, fencingToken: h.lease.fencingToken, result: value });
    if (refused && retried && (await this.completedByUs(h))) refused = undefined;
    if (!refused) {
      this.stats.completed++;
      this.completedIds.push(h.task.id);
    }
    this.forget(h, !refused, refused);
  }

  /** Completions that end in the same turn of the event loop travel in one BatchCompleteTasks
   * call (one durable commit for all); each is answered on its own. */
  private completeBatched(req: { id: string; fencingToken: bigint; result?: Value }): Promise<{ refused?: SwitchyardError; retried: boolean }> {
    return new Promise((resolve) => {
      this.completions.push({ req, resolve });
      if (!this.flushScheduled) {
        this.flushScheduled = true;
        setImmediate(() => void this.flushCompletions());
      }
    });
  }

  private async flushCompletions(): Promise<void> {
    this.flushScheduled = false;
    const items = this.completions.splice(0, 1000);
    if (this.completions.length > 0) {
      this.flushScheduled = true;
      setImmediate(() => void this.flushCompletions());
    }
    let retried = false;
    let results: { ok: boolean; errorReason: string; errorMessage: string }[] = [];
    const refused = await this.finishCall(
      async () => {
        results = (await this.client.batchCompleteTasks({ requests: items.map((i) => i.req) })).results;
      },
      () => (retried = true),
    );
    items.forEach((item, k) => {
      const r = results[k];
      if (refused || !r) item.resolve({ refused: refused ?? new SwitchyardError(Code.Internal, "", "no result for this completion"), retried });
      else item.resolve({ refused: r.ok ? undefined : new SwitchyardError(Code.FailedPrecondition, r.errorReason, r.errorMessage), retried });
    });
  }

  /** After a connection loss, a refused retry may mean the first try was committed and only its
   * answer lost: the task SUCCEEDED under this worker at this attempt (a new claim would count one more). */
  private async completedByUs(h: Held): Promise<boolean> {
    try {
      const { task } = await this.client.getTask({ id: h.task.id }, { timeoutMs: 5000 });
      return task?.state === TaskState.SUCCEEDED && task.workerId === this.workerId && task.attempt === h.task.attempt;
    } catch {
      return false;
    }
  }

  private async fail(h: Held, f: TaskFailure): Promise<void> {
    const refused = await this.finishCall(() =>
      this.client.failTask({
        id: h.task.id,
        fencingToken: h.lease.fencingToken,
        error: { message: f.message.slice(0, 4000), retryable: f.retryable, reason: f.reason, details: f.details as never },
        retryDelay: duration(f.retryDelayMs),
      }),
    );
    if (!refused) this.stats.failed++;
    this.forget(h, !refused, refused);
  }

  private async release(h: Held): Promise<void> {
    const refused = await this.finishCall(() => this.client.releaseTask({ id: h.task.id, fencingToken: h.lease.fencingToken }));
    if (!refused) this.stats.released++;
    this.forget(h, !refused, refused);
  }

  private forget(h: Held, accepted: boolean, refused?: SwitchyardError): void {
    if (refused) {
      this.stats.refused++;
      this.emit("refused", { id: h.task.id, reason: refused.reason, code: refused.codeName, message: refused.message });
    }
    h.state = "done";
    if (this.held.get(h.task.id) === h) this.held.delete(h.task.id);
    this.finished++;
    this.notify();
    // The server gives the credit back itself for an accepted outcome on the session that pushed
    // the task, and for a cancel notice; every other slot freed is granted here.
    const serverReturned = (accepted && h.session === this.session) || h.cancelNoticed;
    if (!serverReturned && !this.stopping.signal.aborted) void this.grant(1);
    if (this.opts.maxTasks !== undefined && this.finished >= this.opts.maxTasks && !this.stopping.signal.aborted) void this.stop();
  }

  // ---------------------------------------------------------------- heartbeats

  private async beat(h: Held): Promise<void> {
    const progress = h.progress;
    h.progress = undefined;
    h.lastBeat = Date.now();
    try {
      const res = await this.client.heartbeatTask(
        { id: h.task.id, fencingToken: h.lease.fencingToken, progress: progress?.percent, progressMessage: progress?.message },
        { timeoutMs: 5000 },
      );
      if (res.cancelRequested) h.abort.abort("cancelled");
    } catch (e) {
      const err = SwitchyardError.from(e);
      if (connectionLost(err)) {
        if (progress && !h.progress) h.progress = progress; // again with the next beat
        return;
      }
      h.abort.abort(err.reason === "LEASE_LOST" ? "lease_lost" : err.reason.toLowerCase() || "lost");
    }
  }

  private async heartbeatLoop(): Promise<void> {
    const every = this.opts.heartbeatIntervalMs;
    while (!this.stopped || this.held.size > 0) {
      await sleep(Math.min(250, every));
      const now = Date.now();
      const due = [...this.held.values()].filter((h) => h.state !== "done" && (h.progress || now - h.lastBeat >= every));
      await Promise.all(due.map((h) => this.beat(h)));
      if (this.stopping.signal.aborted && this.held.size === 0) return;
    }
  }
}
