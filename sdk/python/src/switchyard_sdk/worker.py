"""The worker half: holds a ConnectWorker stream, runs handlers by task type within a concurrency
limit, keeps leases alive, reports progress, completes or fails with the fencing token, delivers
cancellation, drains on SIGTERM and reconnects with backoff when the server goes away.

Credits: the server pushes at most as many tasks as the session has credits, and gives one back
itself when a pushed task of that session is completed, failed or released, or when it sends a
cancel notice. The worker keeps `server credits + tasks in hand == concurrency`: a new session
starts with the free slots, and a task from an earlier session (before a reconnect) that ends is
granted back explicitly. Tasks that arrive while every slot is busy (after a cancel notice freed a
credit for a handler that has not returned yet) wait in hand, heartbeated, for a slot."""
from __future__ import annotations

import asyncio
import collections
import inspect
import logging
import os
import queue
import random
import signal
import socket
import threading
import time
from typing import Any, Callable, Deque, Dict, List, Optional, Sequence

import grpc
from google.protobuf import json_format

from ._convert import TaskInfo, duration, to_struct, to_value
from ._proto.switchyard.tasks.v1 import tasks_pb2 as pb
from ._proto.switchyard.tasks.v1 import tasks_service_pb2 as tpb
from ._proto.switchyard.tasks.v1 import tasks_service_pb2_grpc as trpc
from .client import open_channel
from .errors import SwitchyardError, TaskCancelled, TaskFailure

log = logging.getLogger("switchyard_sdk.worker")

Handler = Callable[["TaskContext"], Any]

#: Codes after which a call is tried again (the server is restarting or unreachable).
TRANSIENT = {grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED, grpc.StatusCode.RESOURCE_EXHAUSTED,
             grpc.StatusCode.UNKNOWN, grpc.StatusCode.INTERNAL, grpc.StatusCode.ABORTED}


def _connection_lost(error: grpc.RpcError) -> bool:
    """A failure of the connection rather than a refusal: transient codes, and CANCELLED, which a
    reset stream can surface as (the worker's own unary calls never cancel themselves)."""
    return error.code() in TRANSIENT or error.code() == grpc.StatusCode.CANCELLED


CANCEL_REASONS = {v: k.replace("CANCEL_REASON_", "").lower() for k, v in pb.CancelReason.items()}

# States of a task in hand.
WAITING, RUNNING, FINISHING, DONE = "waiting", "running", "finishing", "done"


class TaskContext:
    """What a handler gets: the task, its payload, progress reporting and cancellation."""

    def __init__(self, worker: "Worker", task: pb.Task, lease: pb.Lease, session: str):
        self._worker = worker
        self.info = TaskInfo.from_proto(task)
        self.id: str = task.id
        self.type: str = task.type
        self.queue: str = task.queue
        self.payload: Any = self.info.payload
        self.attempt: int = task.attempt
        self.max_attempts: Optional[int] = self.info.max_attempts
        self.fencing_token: int = lease.fencing_token
        self.session = session
        self.state = WAITING
        self.cancel_reason: Optional[str] = None
        self._cancel = threading.Event()
        self._progress: Optional[tuple] = None
        self._future: Optional["asyncio.Future[Any]"] = None
        self.cancel_noticed = False

    @property
    def cancelled(self) -> bool:
        """True once the task was cancelled, deleted, timed out, its lease was lost, or the worker is shutting down."""
        return self._cancel.is_set()

    def raise_if_cancelled(self) -> None:
        """Raises TaskCancelled when the task was cancelled (call it between steps of long work)."""
        if self._cancel.is_set():
            raise TaskCancelled(self.cancel_reason or "cancelled")

    def wait_cancelled(self, timeout: Optional[float] = None) -> bool:
        """Sleeps up to `timeout` seconds, waking early on cancellation; answers whether it was cancelled."""
        return self._cancel.wait(timeout)

    def progress(self, percent: int, message: Optional[str] = None) -> None:
        """Records progress (0-100); sent at once with a lease heartbeat, without blocking the handler."""
        self._progress = (int(percent), message)
        self._worker._wake_heartbeats.set()

    def _mark_cancelled(self, reason: str) -> None:
        if self._cancel.is_set():
            return
        self.cancel_reason = reason
        self._cancel.set()
        future = self._future
        if future is not None and self._worker._loop is not None:
            self._worker._loop.call_soon_threadsafe(future.cancel)


class Worker:
    """Runs handlers for tasks pushed on a worker stream.

    >>> worker = Worker("localhost:8080", queues=["emails"], concurrency=8)
    >>> @worker.handler("send")
    ... def send(task):
    ...     return {"sent": task.payload["to"]}
    >>> worker.run()   # until SIGTERM / SIGINT, then drains
    """

    def __init__(self, target: str = "localhost:8080", *, queues: Sequence[str], worker_id: Optional[str] = None,
                 concurrency: int = 8, lease_duration: float = 30.0, capabilities: Sequence[str] = (),
                 token: Optional[str] = None, tls: bool = False, drain_timeout: float = 30.0,
                 heartbeat_interval: Optional[float] = None, channel: Optional[grpc.Channel] = None,
                 max_backoff: float = 5.0, max_tasks: Optional[int] = None):
        if not queues:
            raise ValueError("queues: at least one queue is required")
        if concurrency < 1 or concurrency > 10000:
            raise ValueError("concurrency: 1 to 10,000")
        self.queues = list(queues)
        self.worker_id = worker_id or f"{socket.gethostname()}-{os.getpid()}"
        self.concurrency = concurrency
        self.lease_duration = lease_duration
        self.capabilities = list(capabilities)
        self.drain_timeout = drain_timeout
        self.heartbeat_interval = heartbeat_interval or max(0.2, lease_duration / 3)
        self.max_backoff = max_backoff
        self.max_tasks = max_tasks
        self._finished = 0
        self._own_channel = channel is None
        self.channel = channel or open_channel(target, tls)
        self._stub = trpc.TaskServiceStub(self.channel)
        self._md = (("authorization", f"Bearer {token}"),) if token else ()
        self._handlers: Dict[str, Handler] = {}
        # One mutex, two conditions: slots wait on `_work` and are woken one per task queued (a
        # notify_all to every slot for each task made 64 threads fight for the GIL per task);
        # everything else that waits for the set of held tasks to change waits on `_lock`.
        mutex = threading.RLock()
        self._lock = threading.Condition(mutex)
        self._work = threading.Condition(mutex)
        self._held: Dict[str, TaskContext] = {}
        self._waiting: Deque[TaskContext] = collections.deque()
        self._session: Optional[str] = None
        self._connecting = False
        self._pending_grants = 0
        self._stream: Any = None
        self._stopping = threading.Event()
        self._stopped = threading.Event()
        self._wake_heartbeats = threading.Event()
        self._threads: List[threading.Thread] = []
        self._completions: "queue.Queue[Any]" = queue.Queue()
        self._completer_stop = threading.Event()
        self._loop: Optional[asyncio.AbstractEventLoop] = None
        #: Counters: tasks completed, failed, released, refused by the server, sessions opened.
        self.stats = {"completed": 0, "failed": 0, "released": 0, "refused": 0, "sessions": 0, "cancelled": 0}
        #: Ids of tasks whose completion the server accepted (for tests and audits).
        self.completed_ids: List[str] = []
        self.on_event: Optional[Callable[[str, Dict[str, Any]], None]] = None

    # ------------------------------------------------------------------ registration

    def handler(self, task_type: str = "*") -> Callable[[Handler], Handler]:
        """Decorator: registers `fn(task)` (sync or async) for tasks of `task_type` ("*": any type)."""

        def register(fn: Handler) -> Handler:
            self.register(task_type, fn)
            return fn

        return register

    def register(self, task_type: str, fn: Handler) -> None:
        self._handlers[task_type] = fn

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> None:
        """Starts the stream, the slots and the heartbeats in background threads."""
        if not self._handlers:
            raise ValueError("no handler registered")
        if any(inspect.iscoroutinefunction(f) for f in self._handlers.values()):
            self._loop = asyncio.new_event_loop()
            self._spawn(self._loop.run_forever, "switchyard-asyncio")
        for i in range(self.concurrency):
            self._spawn(self._slot, f"switchyard-slot-{i}")
        self._spawn(self._heartbeats, "switchyard-heartbeats")
        self._spawn(self._completer, "switchyard-completer")
        self._spawn(self._stream_loop, "switchyard-stream")

    def run(self, install_signals: bool = True) -> None:
        """Starts and blocks until stopped; SIGTERM and SIGINT start a graceful drain."""
        if install_signals and threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGTERM, signal.SIGINT):
                signal.signal(sig, lambda *_: threading.Thread(target=self.stop, daemon=True).start())
        self.start()
        while not self._stopped.wait(0.2):
            pass

    def stop(self, drain: bool = True, timeout: Optional[float] = None) -> None:
        """Stops taking tasks, releases those not started, lets running handlers finish for up to
        `timeout` (default drain_timeout) seconds, then cancels and releases the rest; closes the stream."""
        if self._stopping.is_set():
            self._stopped.wait()
            return
        self._stopping.set()
        stream = self._stream
        if stream is not None:
            stream.cancel()
        with self._lock:
            not_started = [c for c in self._waiting if c.state == WAITING]
            for c in not_started:
                c.state = FINISHING
            self._waiting.clear()
            self._lock.notify_all()
        for c in not_started:
            self._release(c)
        deadline = time.monotonic() + (self.drain_timeout if timeout is None else timeout) if drain else time.monotonic()
        with self._lock:
            while self._held and time.monotonic() < deadline:
                self._lock.wait(min(0.1, max(0.0, deadline - time.monotonic())))
            left = [c for c in self._held.values() if c.state == RUNNING]
        for c in left:
            c._mark_cancelled("shutdown")
        # Handlers that ignore cancellation: give their tasks back now; their late result is dropped.
        for c in left:
            with self._lock:
                if c.state != RUNNING:
                    continue
                c.state = FINISHING
            self._release(c)
        # Outcomes already on their way (completions in the batcher) are answered before stopping.
        finish_by = time.monotonic() + 10
        with self._lock:
            self._lock.notify_all()
            while self._held and time.monotonic() < finish_by:
                self._lock.wait(0.05)
        self._completer_stop.set()
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
        self._stopped.set()
        with self._lock:
            self._work.notify_all()
        for t in self._threads:
            if t is not threading.current_thread():
                t.join(timeout=2)
        if self._own_channel:
            self.channel.close()

    def _spawn(self, target: Callable[[], None], name: str) -> None:
        t = threading.Thread(target=target, name=name, daemon=True)
        self._threads.append(t)
        t.start()

    def _count(self, key: str) -> None:
        with self._lock:
            self.stats[key] += 1

    def _emit(self, kind: str, **data: Any) -> None:
        if self.on_event:
            try:
                self.on_event(kind, data)
            except Exception:  # noqa: BLE001 - an observer must not break the worker
                log.exception("on_event failed")

    # ------------------------------------------------------------------ the stream

    def _stream_loop(self) -> None:
        backoff = 0.1
        while not self._stopping.is_set():
            with self._lock:
                while len(self._held) >= self.concurrency and not self._stopping.is_set():
                    self._lock.wait(0.5)
                if self._stopping.is_set():
                    return
                credits = self.concurrency - len(self._held)
                self._connecting = True
                self._pending_grants = 0
            req = tpb.ConnectWorkerRequest(worker_id=self.worker_id, queues=self.queues, capabilities=self.capabilities,
                                           credits=credits, lease_duration=duration(self.lease_duration))
            got_session = False
            try:
                self._stream = self._stub.ConnectWorker(req, metadata=self._md)
                if self._stopping.is_set():
                    self._stream.cancel()
                for message in self._stream:
                    kind = message.WhichOneof("message")
                    if kind == "session":
                        got_session = True
                        backoff = 0.1
                        self._on_session(message.session.session_id)
                    elif kind == "assigned":
                        self._on_assigned(message.assigned.task, message.assigned.lease)
                    elif kind == "cancel":
                        self._on_cancel(message.cancel)
            except grpc.RpcError as error:
                if self._stopping.is_set():
                    break
                if error.code() not in TRANSIENT and error.code() != grpc.StatusCode.CANCELLED:
                    log.error("worker stream refused: %s", SwitchyardError.from_rpc(error))
                else:
                    log.warning("worker stream lost (%s); reconnecting", error.code().name)
            finally:
                with self._lock:
                    self._session = None
                    self._connecting = False
            if self._stopping.is_set():
                break
            self._emit("disconnected", had_session=got_session)
            # Exponential backoff with jitter, reset by every session that opened.
            self._stopping.wait(backoff * (0.5 + random.random() / 2))
            backoff = min(self.max_backoff, backoff * 2)

    def _on_session(self, session_id: str) -> None:
        with self._lock:
            self._session = session_id
            self._connecting = False
            grants, self._pending_grants = self._pending_grants, 0
        self._count("sessions")
        self._emit("session", session=session_id)
        if grants:
            self._grant(grants)

    def _on_assigned(self, task: pb.Task, lease: pb.Lease) -> None:
        with self._lock:
            session = self._session or ""
            ctx = TaskContext(self, task, lease, session)
            old = self._held.get(task.id)
            if old is not None:
                # Redelivered after our lease ran out: the old attempt's token is dead.
                old._mark_cancelled("lease_expired")
                if old.state == WAITING:
                    old.state = DONE
                    self._waiting.remove(old)
            if self._stopping.is_set():
                ctx.state = FINISHING
                self._held[task.id] = ctx
            else:
                self._held[task.id] = ctx
                self._waiting.append(ctx)
                self._work.notify()
                return
        self._release(ctx)

    def _on_cancel(self, notice: pb.CancelNotice) -> None:
        with self._lock:
            ctx = self._held.get(notice.task_id)
            if ctx is None or ctx.fencing_token != notice.fencing_token:
                return
            ctx.cancel_noticed = True
            if ctx.state == WAITING:
                ctx.state = DONE
                self._waiting.remove(ctx)
                del self._held[ctx.id]
                self._lock.notify_all()
        ctx._mark_cancelled(CANCEL_REASONS.get(notice.reason, "cancelled"))
        self._count("cancelled")
        self._emit("cancel", id=notice.task_id, reason=ctx.cancel_reason)

    def _grant(self, credits: int) -> None:
        with self._lock:
            session = self._session
            if session is None:
                if self._connecting:
                    self._pending_grants += credits
                return  # the next session starts with the free slots
        try:
            self._stub.GrantWorkerCredits(tpb.GrantWorkerCreditsRequest(session_id=session, credits=credits), timeout=10,
                                          metadata=self._md)
        except grpc.RpcError as error:
            log.info("credit grant not applied (%s); the next session recounts", error.code().name)

    # ------------------------------------------------------------------ slots

    def _slot(self) -> None:
        while True:
            with self._lock:
                while not self._waiting and not self._stopped.is_set():
                    self._work.wait(0.5)
                if self._stopped.is_set():
                    return
                ctx = self._waiting.popleft()
                if ctx.state != WAITING:
                    continue
                ctx.state = RUNNING
            self._run(ctx)

    def _run(self, ctx: TaskContext) -> None:
        fn = self._handlers.get(ctx.type) or self._handlers.get("*")
        outcome: Dict[str, Any]
        if fn is None:
            outcome = {"fail": TaskFailure(f"no handler for task type {ctx.type!r}", reason="HANDLER_NOT_FOUND"), "retryable": False}
        else:
            try:
                if inspect.iscoroutinefunction(fn):
                    outcome = {"result": self._run_async(fn, ctx)}
                else:
                    outcome = {"result": fn(ctx)}
            except (TaskCancelled, asyncio.CancelledError):
                outcome = {"cancelled": True}
            except TaskFailure as failure:
                outcome = {"fail": failure, "retryable": failure.retryable}
            except Exception as error:  # noqa: BLE001 - any handler error fails the attempt
                outcome = {"fail": TaskFailure(f"{type(error).__name__}: {error}", reason=type(error).__name__), "retryable": True}
        with self._lock:
            if ctx.state != RUNNING:  # released by the drain meanwhile
                return
            ctx.state = FINISHING
        if ctx.cancelled or outcome.get("cancelled"):
            if ctx.cancel_reason == "shutdown" or (outcome.get("cancelled") and not ctx.cancelled):
                self._release(ctx)  # not the server's cancel: give the task back
            else:
                self._forget(ctx, accepted=False)  # the server took it away already
            return
        if "fail" in outcome:
            self._fail(ctx, outcome["fail"], outcome["retryable"])
        else:
            self._complete(ctx, outcome["result"])

    def _run_async(self, fn: Handler, ctx: TaskContext) -> Any:
        assert self._loop is not None

        async def call() -> Any:
            ctx._future = asyncio.ensure_future(fn(ctx))
            if ctx.cancelled:
                ctx._future.cancel()
            return await ctx._future

        return asyncio.run_coroutine_threadsafe(call(), self._loop).result()

    # ------------------------------------------------------------------ outcomes

    def _finish_call(self, ctx: TaskContext, method: Any, request: Any, retried: Optional[list] = None) -> Optional[SwitchyardError]:
        """Calls complete/fail/release, retrying while the server is unreachable; answers the refusal, if any."""
        backoff = 0.05
        deadline = time.monotonic() + max(60.0, self.lease_duration * 2)
        while True:
            try:
                method(request, timeout=10, metadata=self._md)
                return None
            except grpc.RpcError as error:
                if not _connection_lost(error) or time.monotonic() > deadline:
                    return SwitchyardError.from_rpc(error)
                if retried is not None:
                    retried.append(True)
            time.sleep(backoff * (0.5 + random.random() / 2))
            # Retries stay well inside the lease, so an outcome lands before the lease runs out.
            backoff = min(self.max_backoff, self.lease_duration / 4, backoff * 2)

    def _complete(self, ctx: TaskContext, result: Any) -> None:
        req = tpb.CompleteTaskRequest(id=ctx.id, fencing_token=ctx.fencing_token)
        if result is not None:
            try:
                req.result.CopyFrom(to_value(result))
            except (json_format.ParseError, TypeError, ValueError) as error:
                self._fail(ctx, TaskFailure(f"result is not JSON: {error}", reason="RESULT_NOT_JSON"), False)
                return
        done = threading.Event()
        slot: Dict[str, Any] = {}
        self._completions.put((req, slot, done))
        done.wait()
        refused, retried = slot["refused"], slot["retried"]
        if refused is not None and retried and self._completed_by_us(ctx):
            refused = None
        if refused is None:
            self._count("completed")
            with self._lock:
                self.completed_ids.append(ctx.id)
        self._forget(ctx, accepted=refused is None, refused=refused)

    def _completer(self) -> None:
        """Sends completions in BatchCompleteTasks calls: whatever queued while the previous call was
        in flight goes in the next one (one durable commit for all); each is answered alone."""
        while True:
            try:
                first = self._completions.get(timeout=0.2)
            except queue.Empty:
                if self._completer_stop.is_set():
                    return
                continue
            batch = [first]
            while len(batch) < 1000:
                try:
                    batch.append(self._completions.get_nowait())
                except queue.Empty:
                    break
            retried: list = []
            answer: Dict[str, Any] = {}

            def call(request: Any, timeout: float, metadata: Any) -> None:
                answer["res"] = self._stub.BatchCompleteTasks(request, timeout=timeout, metadata=metadata)

            refused = self._finish_call(None, call, tpb.BatchCompleteTasksRequest(requests=[b[0] for b in batch]), retried)
            results = list(answer["res"].results) if refused is None else []
            for i, (_, slot, done) in enumerate(batch):
                slot["retried"] = bool(retried)
                if refused is not None:
                    slot["refused"] = refused
                elif i >= len(results):
                    slot["refused"] = SwitchyardError("INTERNAL", "", "no result for this completion")
                elif not results[i].ok:
                    slot["refused"] = SwitchyardError("FAILED_PRECONDITION", results[i].error_reason, results[i].error_message)
                else:
                    slot["refused"] = None
                done.set()

    def _completed_by_us(self, ctx: TaskContext) -> bool:
        """After a connection loss, a refused retry may mean the first try was committed and only its
        answer lost: the task SUCCEEDED under this worker at this attempt (a new claim counts one more)."""
        try:
            t = self._stub.GetTask(tpb.GetTaskRequest(id=ctx.id), timeout=5, metadata=self._md).task
        except grpc.RpcError:
            return False
        return t.state == pb.TASK_STATE_SUCCEEDED and t.worker_id == self.worker_id and t.attempt == ctx.attempt

    def _fail(self, ctx: TaskContext, failure: TaskFailure, retryable: bool) -> None:
        error = pb.TaskError(message=str(failure)[:4000], retryable=retryable, reason=failure.reason)
        if failure.details:
            error.details.CopyFrom(to_struct(failure.details))
        req = tpb.FailTaskRequest(id=ctx.id, fencing_token=ctx.fencing_token, error=error)
        if failure.retry_delay is not None:
            req.retry_delay.CopyFrom(duration(failure.retry_delay))
        refused = self._finish_call(ctx, self._stub.FailTask, req)
        if refused is None:
            self._count("failed")
        self._forget(ctx, accepted=refused is None, refused=refused)

    def _release(self, ctx: TaskContext) -> None:
        refused = self._finish_call(ctx, self._stub.ReleaseTask, tpb.ReleaseTaskRequest(id=ctx.id, fencing_token=ctx.fencing_token))
        if refused is None:
            self._count("released")
        self._forget(ctx, accepted=refused is None, refused=refused)

    def _forget(self, ctx: TaskContext, accepted: bool, refused: Optional[SwitchyardError] = None) -> None:
        if refused is not None:
            self._count("refused")
            log.warning("server refused the outcome of %s: %s", ctx.id, refused)
            self._emit("refused", id=ctx.id, reason=refused.reason)
        with self._lock:
            ctx.state = DONE
            if self._held.get(ctx.id) is ctx:
                del self._held[ctx.id]
            current = self._session
            self._finished += 1
            enough = self.max_tasks is not None and self._finished >= self.max_tasks
            self._lock.notify_all()
        if enough and not self._stopping.is_set():
            threading.Thread(target=self.stop, daemon=True).start()
        # The server gives the credit back itself for an accepted outcome on the session that
        # pushed the task, and for a cancel notice; every other slot freed is granted here.
        server_returned = (accepted and ctx.session == current) or ctx.cancel_noticed
        if not server_returned and not self._stopping.is_set():
            self._grant(1)

    # ------------------------------------------------------------------ heartbeats

    def _heartbeats(self) -> None:
        last: Dict[str, float] = {}
        while not self._stopped.is_set():
            self._wake_heartbeats.wait(min(0.25, self.heartbeat_interval))
            self._wake_heartbeats.clear()
            now = time.monotonic()
            with self._lock:
                held = [c for c in self._held.values() if c.state != DONE]
            for ctx in held:
                progress = ctx._progress
                if progress is None and now - last.get(ctx.id, 0.0) < self.heartbeat_interval:
                    continue
                if ctx.id not in last:
                    last[ctx.id] = now  # a task just pushed: its lease is fresh
                    if progress is None:
                        continue
                ctx._progress = None
                req = tpb.HeartbeatTaskRequest(id=ctx.id, fencing_token=ctx.fencing_token)
                if progress is not None:
                    req.progress = progress[0]
                    if progress[1] is not None:
                        req.progress_message = progress[1]
                try:
                    res = self._stub.HeartbeatTask(req, timeout=5, metadata=self._md)
                    last[ctx.id] = now
                    if res.cancel_requested:
                        ctx._mark_cancelled("cancelled")
                except grpc.RpcError as error:
                    if _connection_lost(error):
                        if progress is not None and ctx._progress is None:
                            ctx._progress = progress  # send it again with the next beat
                        continue
                    reason = SwitchyardError.from_rpc(error).reason
                    ctx._mark_cancelled("lease_lost" if reason == "LEASE_LOST" else reason.lower() or "lost")
            with self._lock:
                for task_id in [k for k in last if k not in self._held]:
                    del last[task_id]
