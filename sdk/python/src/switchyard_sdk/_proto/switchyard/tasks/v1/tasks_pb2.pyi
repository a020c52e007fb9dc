import datetime

from switchyard_sdk._proto.google.api import field_behavior_pb2 as _field_behavior_pb2
from google.protobuf import duration_pb2 as _duration_pb2
from google.protobuf import struct_pb2 as _struct_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class TaskState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    TASK_STATE_UNSPECIFIED: _ClassVar[TaskState]
    TASK_STATE_PENDING: _ClassVar[TaskState]
    TASK_STATE_BLOCKED: _ClassVar[TaskState]
    TASK_STATE_RUNNING: _ClassVar[TaskState]
    TASK_STATE_SUCCEEDED: _ClassVar[TaskState]
    TASK_STATE_FAILED: _ClassVar[TaskState]
    TASK_STATE_CANCELLED: _ClassVar[TaskState]
    TASK_STATE_TIMED_OUT: _ClassVar[TaskState]

class QueueMode(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    QUEUE_MODE_UNSPECIFIED: _ClassVar[QueueMode]
    QUEUE_MODE_LONG_RUNNING: _ClassVar[QueueMode]
    QUEUE_MODE_ONE_SHOT: _ClassVar[QueueMode]

class TaskEventKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    TASK_EVENT_KIND_UNSPECIFIED: _ClassVar[TaskEventKind]
    TASK_EVENT_KIND_CREATED: _ClassVar[TaskEventKind]
    TASK_EVENT_KIND_UNBLOCKED: _ClassVar[TaskEventKind]
    TASK_EVENT_KIND_CLAIMED: _ClassVar[TaskEventKind]
    TASK_EVENT_KIND_UPDATED: _ClassVar[TaskEventKind]
    TASK_EVENT_KIND_SUCCEEDED: _ClassVar[TaskEventKind]
    TASK_EVENT_KIND_RETRY_SCHEDULED: _ClassVar[TaskEventKind]
    TASK_EVENT_KIND_FAILED: _ClassVar[TaskEventKind]
    TASK_EVENT_KIND_RELEASED: _ClassVar[TaskEventKind]
    TASK_EVENT_KIND_LEASE_EXPIRED: _ClassVar[TaskEventKind]
    TASK_EVENT_KIND_CANCELLED: _ClassVar[TaskEventKind]
    TASK_EVENT_KIND_TIMED_OUT: _ClassVar[TaskEventKind]
    TASK_EVENT_KIND_RETRIED: _ClassVar[TaskEventKind]
    TASK_EVENT_KIND_DELETED: _ClassVar[TaskEventKind]

class CancelReason(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    CANCEL_REASON_UNSPECIFIED: _ClassVar[CancelReason]
    CANCEL_REASON_CANCELLED: _ClassVar[CancelReason]
    CANCEL_REASON_LEASE_EXPIRED: _ClassVar[CancelReason]
    CANCEL_REASON_TIMED_OUT: _ClassVar[CancelReason]
    CANCEL_REASON_DELETED: _ClassVar[CancelReason]
TASK_STATE_UNSPECIFIED: TaskState
TASK_STATE_PENDING: TaskState
TASK_STATE_BLOCKED: TaskState
TASK_STATE_RUNNING: TaskState
TASK_STATE_SUCCEEDED: TaskState
TASK_STATE_FAILED: TaskState
TASK_STATE_CANCELLED: TaskState
TASK_STATE_TIMED_OUT: TaskState
QUEUE_MODE_UNSPECIFIED: QueueMode
QUEUE_MODE_LONG_RUNNING: QueueMode
QUEUE_MODE_ONE_SHOT: QueueMode
TASK_EVENT_KIND_UNSPECIFIED: TaskEventKind
TASK_EVENT_KIND_CREATED: TaskEventKind
TASK_EVENT_KIND_UNBLOCKED: TaskEventKind
TASK_EVENT_KIND_CLAIMED: TaskEventKind
TASK_EVENT_KIND_UPDATED: TaskEventKind
TASK_EVENT_KIND_SUCCEEDED: TaskEventKind
TASK_EVENT_KIND_RETRY_SCHEDULED: TaskEventKind
TASK_EVENT_KIND_FAILED: TaskEventKind
TASK_EVENT_KIND_RELEASED: TaskEventKind
TASK_EVENT_KIND_LEASE_EXPIRED: TaskEventKind
TASK_EVENT_KIND_CANCELLED: TaskEventKind
TASK_EVENT_KIND_TIMED_OUT: TaskEventKind
TASK_EVENT_KIND_RETRIED: TaskEventKind
TASK_EVENT_KIND_DELETED: TaskEventKind
CANCEL_REASON_UNSPECIFIED: CancelReason
CANCEL_REASON_CANCELLED: CancelReason
CANCEL_REASON_LEASE_EXPIRED: CancelReason
CANCEL_REASON_TIMED_OUT: CancelReason
CANCEL_REASON_DELETED: CancelReason

class Task(_message.Message):
    __slots__ = ("id", "queue", "type", "priority", "payload", "required_capabilities", "run_at", "timeout", "max_attempts", "attempt", "depends_on", "progress", "progress_message", "result", "error", "state", "worker_id", "server_id", "lease", "metadata", "create_time", "update_time", "start_time", "finish_time", "request_id", "title", "description", "tags", "retry_count")
    ID_FIELD_NUMBER: _ClassVar[int]
    QUEUE_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    PRIORITY_FIELD_NUMBER: _ClassVar[int]
    PAYLOAD_FIELD_NUMBER: _ClassVar[int]
    REQUIRED_CAPABILITIES_FIELD_NUMBER: _ClassVar[int]
    RUN_AT_FIELD_NUMBER: _ClassVar[int]
    TIMEOUT_FIELD_NUMBER: _ClassVar[int]
    MAX_ATTEMPTS_FIELD_NUMBER: _ClassVar[int]
    ATTEMPT_FIELD_NUMBER: _ClassVar[int]
    DEPENDS_ON_FIELD_NUMBER: _ClassVar[int]
    PROGRESS_FIELD_NUMBER: _ClassVar[int]
    PROGRESS_MESSAGE_FIELD_NUMBER: _ClassVar[int]
    RESULT_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    WORKER_ID_FIELD_NUMBER: _ClassVar[int]
    SERVER_ID_FIELD_NUMBER: _ClassVar[int]
    LEASE_FIELD_NUMBER: _ClassVar[int]
    METADATA_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    UPDATE_TIME_FIELD_NUMBER: _ClassVar[int]
    START_TIME_FIELD_NUMBER: _ClassVar[int]
    FINISH_TIME_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    TITLE_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    TAGS_FIELD_NUMBER: _ClassVar[int]
    RETRY_COUNT_FIELD_NUMBER: _ClassVar[int]
    id: str
    queue: str
    type: str
    priority: int
    payload: _struct_pb2.Value
    required_capabilities: _containers.RepeatedScalarFieldContainer[str]
    run_at: _timestamp_pb2.Timestamp
    timeout: _duration_pb2.Duration
    max_attempts: int
    attempt: int
    depends_on: _containers.RepeatedScalarFieldContainer[str]
    progress: int
    progress_message: str
    result: _struct_pb2.Value
    error: TaskError
    state: TaskState
    worker_id: str
    server_id: str
    lease: Lease
    metadata: _struct_pb2.Struct
    create_time: _timestamp_pb2.Timestamp
    update_time: _timestamp_pb2.Timestamp
    start_time: _timestamp_pb2.Timestamp
    finish_time: _timestamp_pb2.Timestamp
    request_id: str
    title: str
    description: str
    tags: _containers.RepeatedScalarFieldContainer[str]
    retry_count: int
    def __init__(self, id: _Optional[str] = ..., queue: _Optional[str] = ..., type: _Optional[str] = ..., priority: _Optional[int] = ..., payload: _Optional[_Union[_struct_pb2.Value, _Mapping]] = ..., required_capabilities: _Optional[_Iterable[str]] = ..., run_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., timeout: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., max_attempts: _Optional[int] = ..., attempt: _Optional[int] = ..., depends_on: _Optional[_Iterable[str]] = ..., progress: _Optional[int] = ..., progress_message: _Optional[str] = ..., result: _Optional[_Union[_struct_pb2.Value, _Mapping]] = ..., error: _Optional[_Union[TaskError, _Mapping]] = ..., state: _Optional[_Union[TaskState, str]] = ..., worker_id: _Optional[str] = ..., server_id: _Optional[str] = ..., lease: _Optional[_Union[Lease, _Mapping]] = ..., metadata: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., update_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., start_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., finish_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., request_id: _Optional[str] = ..., title: _Optional[str] = ..., description: _Optional[str] = ..., tags: _Optional[_Iterable[str]] = ..., retry_count: _Optional[int] = ...) -> None: ...

class Lease(_message.Message):
    __slots__ = ("fencing_token", "expire_time", "lease_duration", "worker_id")
    FENCING_TOKEN_FIELD_NUMBER: _ClassVar[int]
    EXPIRE_TIME_FIELD_NUMBER: _ClassVar[int]
    LEASE_DURATION_FIELD_NUMBER: _ClassVar[int]
    WORKER_ID_FIELD_NUMBER: _ClassVar[int]
    fencing_token: int
    expire_time: _timestamp_pb2.Timestamp
    lease_duration: _duration_pb2.Duration
    worker_id: str
    def __init__(self, fencing_token: _Optional[int] = ..., expire_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., lease_duration: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., worker_id: _Optional[str] = ...) -> None: ...

class TaskError(_message.Message):
    __slots__ = ("message", "retryable", "details", "reason")
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    RETRYABLE_FIELD_NUMBER: _ClassVar[int]
    DETAILS_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    message: str
    retryable: bool
    details: _struct_pb2.Struct
    reason: str
    def __init__(self, message: _Optional[str] = ..., retryable: _Optional[bool] = ..., details: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., reason: _Optional[str] = ...) -> None: ...

class QueueConfig(_message.Message):
    __slots__ = ("name", "priority", "mode", "default_timeout", "default_max_attempts", "concurrency_limit", "deployment", "source", "create_time", "update_time")
    NAME_FIELD_NUMBER: _ClassVar[int]
    PRIORITY_FIELD_NUMBER: _ClassVar[int]
    MODE_FIELD_NUMBER: _ClassVar[int]
    DEFAULT_TIMEOUT_FIELD_NUMBER: _ClassVar[int]
    DEFAULT_MAX_ATTEMPTS_FIELD_NUMBER: _ClassVar[int]
    CONCURRENCY_LIMIT_FIELD_NUMBER: _ClassVar[int]
    DEPLOYMENT_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    UPDATE_TIME_FIELD_NUMBER: _ClassVar[int]
    name: str
    priority: int
    mode: QueueMode
    default_timeout: _duration_pb2.Duration
    default_max_attempts: int
    concurrency_limit: int
    deployment: _struct_pb2.Struct
    source: str
    create_time: _timestamp_pb2.Timestamp
    update_time: _timestamp_pb2.Timestamp
    def __init__(self, name: _Optional[str] = ..., priority: _Optional[int] = ..., mode: _Optional[_Union[QueueMode, str]] = ..., default_timeout: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., default_max_attempts: _Optional[int] = ..., concurrency_limit: _Optional[int] = ..., deployment: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., source: _Optional[str] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., update_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class TaskCounts(_message.Message):
    __slots__ = ("pending", "delayed", "blocked", "running", "succeeded", "failed", "cancelled", "timed_out", "total")
    PENDING_FIELD_NUMBER: _ClassVar[int]
    DELAYED_FIELD_NUMBER: _ClassVar[int]
    BLOCKED_FIELD_NUMBER: _ClassVar[int]
    RUNNING_FIELD_NUMBER: _ClassVar[int]
    SUCCEEDED_FIELD_NUMBER: _ClassVar[int]
    FAILED_FIELD_NUMBER: _ClassVar[int]
    CANCELLED_FIELD_NUMBER: _ClassVar[int]
    TIMED_OUT_FIELD_NUMBER: _ClassVar[int]
    TOTAL_FIELD_NUMBER: _ClassVar[int]
    pending: int
    delayed: int
    blocked: int
    running: int
    succeeded: int
    failed: int
    cancelled: int
    timed_out: int
    total: int
    def __init__(self, pending: _Optional[int] = ..., delayed: _Optional[int] = ..., blocked: _Optional[int] = ..., running: _Optional[int] = ..., succeeded: _Optional[int] = ..., failed: _Optional[int] = ..., cancelled: _Optional[int] = ..., timed_out: _Optional[int] = ..., total: _Optional[int] = ...) -> None: ...

class Queue(_message.Message):
    __slots__ = ("name", "paused", "counts", "oldest_pending_age", "config", "pause_update_time")
    NAME_FIELD_NUMBER: _ClassVar[int]
    PAUSED_FIELD_NUMBER: _ClassVar[int]
    COUNTS_FIELD_NUMBER: _ClassVar[int]
    OLDEST_PENDING_AGE_FIELD_NUMBER: _ClassVar[int]
    CONFIG_FIELD_NUMBER: _ClassVar[int]
    PAUSE_UPDATE_TIME_FIELD_NUMBER: _ClassVar[int]
    name: str
    paused: bool
    counts: TaskCounts
    oldest_pending_age: _duration_pb2.Duration
    config: QueueConfig
    pause_update_time: _timestamp_pb2.Timestamp
    def __init__(self, name: _Optional[str] = ..., paused: _Optional[bool] = ..., counts: _Optional[_Union[TaskCounts, _Mapping]] = ..., oldest_pending_age: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., config: _Optional[_Union[QueueConfig, _Mapping]] = ..., pause_update_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class TaskEvent(_message.Message):
    __slots__ = ("sequence", "time", "kind", "task", "previous_state")
    SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    TIME_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    TASK_FIELD_NUMBER: _ClassVar[int]
    PREVIOUS_STATE_FIELD_NUMBER: _ClassVar[int]
    sequence: int
    time: _timestamp_pb2.Timestamp
    kind: TaskEventKind
    task: Task
    previous_state: TaskState
    def __init__(self, sequence: _Optional[int] = ..., time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., kind: _Optional[_Union[TaskEventKind, str]] = ..., task: _Optional[_Union[Task, _Mapping]] = ..., previous_state: _Optional[_Union[TaskState, str]] = ...) -> None: ...

class TaskAssignment(_message.Message):
    __slots__ = ("task", "lease")
    TASK_FIELD_NUMBER: _ClassVar[int]
    LEASE_FIELD_NUMBER: _ClassVar[int]
    task: Task
    lease: Lease
    def __init__(self, task: _Optional[_Union[Task, _Mapping]] = ..., lease: _Optional[_Union[Lease, _Mapping]] = ...) -> None: ...

class WorkerPing(_message.Message):
    __slots__ = ("server_time", "credits")
    SERVER_TIME_FIELD_NUMBER: _ClassVar[int]
    CREDITS_FIELD_NUMBER: _ClassVar[int]
    server_time: _timestamp_pb2.Timestamp
    credits: int
    def __init__(self, server_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., credits: _Optional[int] = ...) -> None: ...

class CancelNotice(_message.Message):
    __slots__ = ("task_id", "fencing_token", "reason")
    TASK_ID_FIELD_NUMBER: _ClassVar[int]
    FENCING_TOKEN_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    task_id: str
    fencing_token: int
    reason: CancelReason
    def __init__(self, task_id: _Optional[str] = ..., fencing_token: _Optional[int] = ..., reason: _Optional[_Union[CancelReason, str]] = ...) -> None: ...

class WorkerSessionInfo(_message.Message):
    __slots__ = ("session_id", "ping_interval", "server_time", "credits")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    PING_INTERVAL_FIELD_NUMBER: _ClassVar[int]
    SERVER_TIME_FIELD_NUMBER: _ClassVar[int]
    CREDITS_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    ping_interval: _duration_pb2.Duration
    server_time: _timestamp_pb2.Timestamp
    credits: int
    def __init__(self, session_id: _Optional[str] = ..., ping_interval: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., server_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., credits: _Optional[int] = ...) -> None: ...

class HourlyStat(_message.Message):
    __slots__ = ("hour", "created", "completed", "failed", "average_time")
    HOUR_FIELD_NUMBER: _ClassVar[int]
    CREATED_FIELD_NUMBER: _ClassVar[int]
    COMPLETED_FIELD_NUMBER: _ClassVar[int]
    FAILED_FIELD_NUMBER: _ClassVar[int]
    AVERAGE_TIME_FIELD_NUMBER: _ClassVar[int]
    hour: int
    created: int
    completed: int
    failed: int
    average_time: _duration_pb2.Duration
    def __init__(self, hour: _Optional[int] = ..., created: _Optional[int] = ..., completed: _Optional[int] = ..., failed: _Optional[int] = ..., average_time: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ...) -> None: ...

class WorkerStat(_message.Message):
    __slots__ = ("worker_id", "tasks_processed", "success_count", "failure_count", "success_rate", "average_processing_time")
    WORKER_ID_FIELD_NUMBER: _ClassVar[int]
    TASKS_PROCESSED_FIELD_NUMBER: _ClassVar[int]
    SUCCESS_COUNT_FIELD_NUMBER: _ClassVar[int]
    FAILURE_COUNT_FIELD_NUMBER: _ClassVar[int]
    SUCCESS_RATE_FIELD_NUMBER: _ClassVar[int]
    AVERAGE_PROCESSING_TIME_FIELD_NUMBER: _ClassVar[int]
    worker_id: str
    tasks_processed: int
    success_count: int
    failure_count: int
    success_rate: float
    average_processing_time: _duration_pb2.Duration
    def __init__(self, worker_id: _Optional[str] = ..., tasks_processed: _Optional[int] = ..., success_count: _Optional[int] = ..., failure_count: _Optional[int] = ..., success_rate: _Optional[float] = ..., average_processing_time: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ...) -> None: ...

class QueueStat(_message.Message):
    __slots__ = ("queue", "counts", "average_processing_time")
    QUEUE_FIELD_NUMBER: _ClassVar[int]
    COUNTS_FIELD_NUMBER: _ClassVar[int]
    AVERAGE_PROCESSING_TIME_FIELD_NUMBER: _ClassVar[int]
    queue: str
    counts: TaskCounts
    average_processing_time: _duration_pb2.Duration
    def __init__(self, queue: _Optional[str] = ..., counts: _Optional[_Union[TaskCounts, _Mapping]] = ..., average_processing_time: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ...) -> None: ...
