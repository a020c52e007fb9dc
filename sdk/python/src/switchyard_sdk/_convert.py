"""Plain Python values <-> protobuf messages (JSON values, durations, tasks)."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Dict, List, Optional

from google.protobuf import duration_pb2, json_format, struct_pb2

from ._proto.switchyard.tasks.v1 import tasks_pb2

STATES = {v: k.replace("TASK_STATE_", "") for k, v in tasks_pb2.TaskState.items()}
KINDS = {v: k.replace("TASK_EVENT_KIND_", "") for k, v in tasks_pb2.TaskEventKind.items()}
FINAL_STATES = {"SUCCEEDED", "FAILED", "CANCELLED", "TIMED_OUT"}


def to_value(value: Any) -> struct_pb2.Value:
    out = struct_pb2.Value()
    json_format.ParseDict(value, out)
    return out


def _ints(value: Any) -> Any:
    # JSON numbers travel as doubles in google.protobuf.Value: give integral ones back as int.
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        return int(value)
    if isinstance(value, list):
        return [_ints(v) for v in value]
    if isinstance(value, dict):
        return {k: _ints(v) for k, v in value.items()}
    return value


def from_value(message: Any, field_name: str) -> Any:
    if not message.HasField(field_name):
        return None
    return _ints(json_format.MessageToDict(getattr(message, field_name)))


def to_struct(value: Optional[Dict[str, Any]]) -> Optional[struct_pb2.Struct]:
    if value is None:
        return None
    out = struct_pb2.Struct()
    out.update(value)
    return out


def duration(seconds: Optional[float]) -> Optional[duration_pb2.Duration]:
    if seconds is None:
        return None
    d = duration_pb2.Duration()
    d.FromMilliseconds(int(round(seconds * 1000)))
    return d


def _time(message: Any, name: str) -> Optional[datetime]:
    return getattr(message, name).ToDatetime() if message.HasField(name) else None


@dataclass
class TaskInfo:
    """A task as the server last reported it; `state` is the TaskState name without its prefix."""

    id: str
    queue: str
    type: str
    state: str
    payload: Any = None
    result: Any = None
    error: Optional[Dict[str, Any]] = None
    attempt: int = 0
    max_attempts: Optional[int] = None
    priority: Optional[int] = None
    progress: int = 0
    progress_message: str = ""
    worker_id: str = ""
    tags: List[str] = field(default_factory=list)
    metadata: Optional[Dict[str, Any]] = None
    create_time: Optional[datetime] = None
    finish_time: Optional[datetime] = None

    @property
    def done(self) -> bool:
        return self.state in FINAL_STATES

    @staticmethod
    def from_proto(t: tasks_pb2.Task) -> "TaskInfo":
        return TaskInfo(
            id=t.id,
            queue=t.queue,
            type=t.type,
            state=STATES.get(t.state, "UNSPECIFIED"),
            payload=from_value(t, "payload"),
            result=from_value(t, "result"),
            error=_ints(json_format.MessageToDict(t.error, preserving_proto_field_name=True)) if t.HasField("error") else None,
            attempt=t.attempt,
            max_attempts=t.max_attempts if t.HasField("max_attempts") else None,
            priority=t.priority if t.HasField("priority") else None,
            progress=t.progress,
            progress_message=t.progress_message,
            worker_id=t.worker_id,
            tags=list(t.tags),
            metadata=_ints(json_format.MessageToDict(t.metadata)) if t.HasField("metadata") else None,
            create_time=_time(t, "create_time"),
            finish_time=_time(t, "finish_time"),
        )


@dataclass
class TaskEvent:
    """One committed change of a task (`kind` without its TASK_EVENT_KIND_ prefix)."""

    sequence: int
    kind: str
    task: TaskInfo
    previous_state: str

    @staticmethod
    def from_proto(e: tasks_pb2.TaskEvent) -> "TaskEvent":
        return TaskEvent(e.sequence, KINDS.get(e.kind, "UNSPECIFIED"), TaskInfo.from_proto(e.task), STATES.get(e.previous_state, "UNSPECIFIED"))
