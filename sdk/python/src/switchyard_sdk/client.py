"""The client half: enqueue one task or a batch, read, wait for a result, watch events, cancel."""
from __future__ import annotations

import time
from typing import Any, Dict, Iterable, Iterator, List, Optional, Sequence

import grpc

from ._convert import FINAL_STATES, TaskEvent, TaskInfo, duration, to_struct, to_value
from ._proto.switchyard.tasks.v1 import queues_service_pb2 as qpb
from ._proto.switchyard.tasks.v1 import queues_service_pb2_grpc as qrpc
from ._proto.switchyard.tasks.v1 import tasks_pb2 as pb
from ._proto.switchyard.tasks.v1 import tasks_service_pb2 as tpb
from ._proto.switchyard.tasks.v1 import tasks_service_pb2_grpc as trpc
from .errors import SwitchyardError

#: Most creates in one BatchCreateTasks call (the server's limit).
BATCH_LIMIT = 1000

CHANNEL_OPTIONS = [
    # Reconnect fast after a server restart (grpcio's default backoff grows to minutes).
    ("grpc.initial_reconnect_backoff_ms", 100),
    ("grpc.min_reconnect_backoff_ms", 100),
    ("grpc.max_reconnect_backoff_ms", 2000),
    ("grpc.keepalive_time_ms", 20000),
    ("grpc.keepalive_timeout_ms", 10000),
]


def open_channel(target: str, tls: bool = False) -> grpc.Channel:
    """A channel to `host:port` (an `http://` or `https://` prefix is accepted and chooses TLS)."""
    if target.startswith("https://"):
        return grpc.secure_channel(target[len("https://"):].rstrip("/"), grpc.ssl_channel_credentials(), CHANNEL_OPTIONS)
    if target.startswith("http://"):
        target = target[len("http://"):].rstrip("/")
    if tls:
        return grpc.secure_channel(target, grpc.ssl_channel_credentials(), CHANNEL_OPTIONS)
    return grpc.insecure_channel(target, CHANNEL_OPTIONS)


def _task_message(queue: str, type: str = "", payload: Any = None, *, id: str = "", priority: Optional[int] = None,
                  max_attempts: Optional[int] = None, timeout: Optional[float] = None, capabilities: Sequence[str] = (),
                  depends_on: Sequence[str] = (), tags: Sequence[str] = (), metadata: Optional[Dict[str, Any]] = None,
                  title: str = "") -> pb.Task:
    task = pb.Task(queue=queue, type=type, id=id, required_capabilities=list(capabilities), depends_on=list(depends_on),
                   tags=list(tags), title=title)
    if payload is not None:
        task.payload.CopyFrom(to_value(payload))
    if priority is not None:
        task.priority = priority
    if max_attempts is not None:
        task.max_attempts = max_attempts
    if timeout is not None:
        task.timeout.CopyFrom(duration(timeout))
    if metadata is not None:
        task.metadata.CopyFrom(to_struct(metadata))
    return task


class Client:
    """Talks to one Switchyard server over gRPC. `token` is sent as a bearer token on every call."""

    def __init__(self, target: str = "localhost:8080", *, token: Optional[str] = None, tls: bool = False,
                 channel: Optional[grpc.Channel] = None, timeout: float = 30.0):
        self._own_channel = channel is None
        self.channel = channel or open_channel(target, tls)
        self.tasks = trpc.TaskServiceStub(self.channel)
        self.queues = qrpc.QueueServiceStub(self.channel)
        self.metadata = (("authorization", f"Bearer {token}"),) if token else ()
        self.timeout = timeout

    def close(self) -> None:
        if self._own_channel:
            self.channel.close()

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def _call(self, method: Any, request: Any, timeout: Optional[float] = None) -> Any:
        try:
            return method(request, timeout=timeout or self.timeout, metadata=self.metadata)
        except grpc.RpcError as error:
            raise SwitchyardError.from_rpc(error) from None

    def enqueue(self, queue: str, type: str = "", payload: Any = None, *, request_id: str = "", delay: Optional[float] = None,
                **options: Any) -> TaskInfo:
        """Creates one task; options: id, priority, max_attempts, timeout (s), capabilities, depends_on, tags, metadata, title."""
        req = tpb.CreateTaskRequest(task=_task_message(queue, type, payload, **options), request_id=request_id)
        if delay is not None:
            req.delay.CopyFrom(duration(delay))
        return TaskInfo.from_proto(self._call(self.tasks.CreateTask, req).task)

    def enqueue_many(self, tasks: Iterable[Dict[str, Any]]) -> List[TaskInfo]:
        """Creates many tasks (dicts of `enqueue`'s arguments), 1,000 per durable commit, in order."""
        out: List[TaskInfo] = []
        batch: List[tpb.CreateTaskRequest] = []

        def flush() -> None:
            if batch:
                res = self._call(self.tasks.BatchCreateTasks, tpb.BatchCreateTasksRequest(requests=batch))
                out.extend(TaskInfo.from_proto(t) for t in res.tasks)
                batch.clear()

        for spec in tasks:
            spec = dict(spec)
            request_id, delay = spec.pop("request_id", ""), spec.pop("delay", None)
            req = tpb.CreateTaskRequest(task=_task_message(**spec), request_id=request_id)
            if delay is not None:
                req.delay.CopyFrom(duration(delay))
            batch.append(req)
            if len(batch) == BATCH_LIMIT:
                flush()
        flush()
        return out

    def get(self, task_id: str) -> TaskInfo:
        return TaskInfo.from_proto(self._call(self.tasks.GetTask, tpb.GetTaskRequest(id=task_id)).task)

    def cancel(self, task_id: str, reason: str = "") -> TaskInfo:
        return TaskInfo.from_proto(self._call(self.tasks.CancelTask, tpb.CancelTaskRequest(id=task_id, reason=reason)).task)

    def retry(self, task_id: str) -> TaskInfo:
        return TaskInfo.from_proto(self._call(self.tasks.RetryTask, tpb.RetryTaskRequest(id=task_id)).task)

    def list(self, *, queues: Sequence[str] = (), states: Sequence[str] = (), type: str = "", page_size: int = 100) -> Iterator[TaskInfo]:
        """Every task matching the filters, newest first, following pages."""
        token = ""
        while True:
            req = tpb.ListTasksRequest(page_size=page_size, page_token=token, queues=list(queues), type=type,
                                       states=[pb.TaskState.Value(f"TASK_STATE_{s}") for s in states])
            res = self._call(self.tasks.ListTasks, req)
            yield from (TaskInfo.from_proto(t) for t in res.tasks)
            token = res.next_page_token
            if not token:
                return

    def queue_counts(self, queue: str) -> Dict[str, int]:
        q = self._call(self.queues.GetQueue, qpb.GetQueueRequest(name=queue)).queue
        return {f.name: getattr(q.counts, f.name) for f in q.counts.DESCRIPTOR.fields}

    def watch(self, *, task_ids: Sequence[str] = (), queues: Sequence[str] = (), timeout: Optional[float] = None) -> Iterator[TaskEvent]:
        """Live task events (no replay) until the iterator is closed or `timeout` seconds pass."""
        stream = self.tasks.WatchTaskEvents(tpb.WatchTaskEventsRequest(task_ids=list(task_ids), queues=list(queues)),
                                            timeout=timeout, metadata=self.metadata)
        try:
            for message in stream:
                yield TaskEvent.from_proto(message.event)
        except grpc.RpcError as error:
            if error.code() in (grpc.StatusCode.DEADLINE_EXCEEDED, grpc.StatusCode.CANCELLED):
                return
            raise SwitchyardError.from_rpc(error) from None
        finally:
            stream.cancel()

    def wait(self, task_id: str, timeout: float = 60.0) -> TaskInfo:
        """Waits until the task is finished (SUCCEEDED, FAILED, CANCELLED or TIMED_OUT) and answers it.
        Raises TimeoutError when it is not finished within `timeout` seconds."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"task {task_id} not finished after {timeout}s")
            # Watch first, then read, so a change between the two is not missed.
            stream = self.tasks.WatchTaskEvents(tpb.WatchTaskEventsRequest(task_ids=[task_id]), timeout=min(left, 2.0),
                                                metadata=self.metadata)
            try:
                task = self.get(task_id)
                if task.done:
                    return task
                for message in stream:
                    event = TaskEvent.from_proto(message.event)
                    if event.task.done:
                        return event.task
            except grpc.RpcError as error:
                if error.code() not in (grpc.StatusCode.DEADLINE_EXCEEDED, grpc.StatusCode.UNAVAILABLE):
                    raise SwitchyardError.from_rpc(error) from None
                if error.code() == grpc.StatusCode.UNAVAILABLE:
                    time.sleep(0.2)
            finally:
                stream.cancel()
