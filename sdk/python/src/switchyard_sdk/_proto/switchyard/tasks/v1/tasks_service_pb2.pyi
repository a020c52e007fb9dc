import datetime

from switchyard_sdk._proto.google.api import annotations_pb2 as _annotations_pb2
from switchyard_sdk._proto.google.api import field_behavior_pb2 as _field_behavior_pb2
from google.protobuf import duration_pb2 as _duration_pb2
from google.protobuf import struct_pb2 as _struct_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from switchyard_sdk._proto.switchyard.tasks.v1 import tasks_pb2 as _tasks_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class CreateTaskRequest(_message.Message):
    __slots__ = ("task", "request_id", "delay")
    TASK_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    DELAY_FIELD_NUMBER: _ClassVar[int]
    task: _tasks_pb2.Task
    request_id: str
    delay: _duration_pb2.Duration
    def __init__(self, task: _Optional[_Union[_tasks_pb2.Task, _Mapping]] = ..., request_id: _Optional[str] = ..., delay: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ...) -> None: ...

class CreateTaskResponse(_message.Message):
    __slots__ = ("task", "replayed")
    TASK_FIELD_NUMBER: _ClassVar[int]
    REPLAYED_FIELD_NUMBER: _ClassVar[int]
    task: _tasks_pb2.Task
    replayed: bool
    def __init__(self, task: _Optional[_Union[_tasks_pb2.Task, _Mapping]] = ..., replayed: _Optional[bool] = ...) -> None: ...

class BatchCreateTasksRequest(_message.Message):
    __slots__ = ("requests",)
    REQUESTS_FIELD_NUMBER: _ClassVar[int]
    requests: _containers.RepeatedCompositeFieldContainer[CreateTaskRequest]
    def __init__(self, requests: _Optional[_Iterable[_Union[CreateTaskRequest, _Mapping]]] = ...) -> None: ...

class BatchCreateTasksResponse(_message.Message):
    __slots__ = ("tasks",)
    TASKS_FIELD_NUMBER: _ClassVar[int]
    tasks: _containers.RepeatedCompositeFieldContainer[_tasks_pb2.Task]
    def __init__(self, tasks: _Optional[_Iterable[_Union[_tasks_pb2.Task, _Mapping]]] = ...) -> None: ...

class GetTaskRequest(_message.Message):
    __slots__ = ("id",)
    ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    def __init__(self, id: _Optional[str] = ...) -> None: ...

class GetTaskResponse(_message.Message):
    __slots__ = ("task",)
    TASK_FIELD_NUMBER: _ClassVar[int]
    task: _tasks_pb2.Task
    def __init__(self, task: _Optional[_Union[_tasks_pb2.Task, _Mapping]] = ...) -> None: ...

class ListTasksRequest(_message.Message):
    __slots__ = ("page_size", "page_token", "queues", "states", "type", "worker_id", "capability", "created_after", "created_before", "tag")
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    QUEUES_FIELD_NUMBER: _ClassVar[int]
    STATES_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    WORKER_ID_FIELD_NUMBER: _ClassVar[int]
    CAPABILITY_FIELD_NUMBER: _ClassVar[int]
    CREATED_AFTER_FIELD_NUMBER: _ClassVar[int]
    CREATED_BEFORE_FIELD_NUMBER: _ClassVar[int]
    TAG_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    page_token: str
    queues: _containers.RepeatedScalarFieldContainer[str]
    states: _containers.RepeatedScalarFieldContainer[_tasks_pb2.TaskState]
    type: str
    worker_id: str
    capability: str
    created_after: _timestamp_pb2.Timestamp
    created_before: _timestamp_pb2.Timestamp
    tag: str
    def __init__(self, page_size: _Optional[int] = ..., page_token: _Optional[str] = ..., queues: _Optional[_Iterable[str]] = ..., states: _Optional[_Iterable[_Union[_tasks_pb2.TaskState, str]]] = ..., type: _Optional[str] = ..., worker_id: _Optional[str] = ..., capability: _Optional[str] = ..., created_after: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., created_before: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., tag: _Optional[str] = ...) -> None: ...

class ListTasksResponse(_message.Message):
    __slots__ = ("tasks", "next_page_token")
    TASKS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    tasks: _containers.RepeatedCompositeFieldContainer[_tasks_pb2.Task]
    next_page_token: str
    def __init__(self, tasks: _Optional[_Iterable[_Union[_tasks_pb2.Task, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class ListReadyTasksRequest(_message.Message):
    __slots__ = ("page_size", "page_token", "queues", "capabilities")
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    QUEUES_FIELD_NUMBER: _ClassVar[int]
    CAPABILITIES_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    page_token: str
    queues: _containers.RepeatedScalarFieldContainer[str]
    capabilities: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, page_size: _Optional[int] = ..., page_token: _Optional[str] = ..., queues: _Optional[_Iterable[str]] = ..., capabilities: _Optional[_Iterable[str]] = ...) -> None: ...

class ListReadyTasksResponse(_message.Message):
    __slots__ = ("tasks", "next_page_token")
    TASKS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    tasks: _containers.RepeatedCompositeFieldContainer[_tasks_pb2.Task]
    next_page_token: str
    def __init__(self, tasks: _Optional[_Iterable[_Union[_tasks_pb2.Task, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class ListDeadLetterTasksRequest(_message.Message):
    __slots__ = ("page_size", "page_token", "queues")
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    QUEUES_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    page_token: str
    queues: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, page_size: _Optional[int] = ..., page_token: _Optional[str] = ..., queues: _Optional[_Iterable[str]] = ...) -> None: ...

class ListDeadLetterTasksResponse(_message.Message):
    __slots__ = ("tasks", "next_page_token")
    TASKS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    tasks: _containers.RepeatedCompositeFieldContainer[_tasks_pb2.Task]
    next_page_token: str
    def __init__(self, tasks: _Optional[_Iterable[_Union[_tasks_pb2.Task, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class UpdateTaskRequest(_message.Message):
    __slots__ = ("id", "progress", "progress_message", "metadata", "state", "result", "error", "server_id", "fencing_token", "priority", "title", "description", "tags", "replace_tags")
    ID_FIELD_NUMBER: _ClassVar[int]
    PROGRESS_FIELD_NUMBER: _ClassVar[int]
    PROGRESS_MESSAGE_FIELD_NUMBER: _ClassVar[int]
    METADATA_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    RESULT_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    SERVER_ID_FIELD_NUMBER: _ClassVar[int]
    FENCING_TOKEN_FIELD_NUMBER: _ClassVar[int]
    PRIORITY_FIELD_NUMBER: _ClassVar[int]
    TITLE_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    TAGS_FIELD_NUMBER: _ClassVar[int]
    REPLACE_TAGS_FIELD_NUMBER: _ClassVar[int]
    id: str
    progress: int
    progress_message: str
    metadata: _struct_pb2.Struct
    state: _tasks_pb2.TaskState
    result: _struct_pb2.Value
    error: _tasks_pb2.TaskError
    server_id: str
    fencing_token: int
    priority: int
    title: str
    description: str
    tags: _containers.RepeatedScalarFieldContainer[str]
    replace_tags: bool
    def __init__(self, id: _Optional[str] = ..., progress: _Optional[int] = ..., progress_message: _Optional[str] = ..., metadata: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., state: _Optional[_Union[_tasks_pb2.TaskState, str]] = ..., result: _Optional[_Union[_struct_pb2.Value, _Mapping]] = ..., error: _Optional[_Union[_tasks_pb2.TaskError, _Mapping]] = ..., server_id: _Optional[str] = ..., fencing_token: _Optional[int] = ..., priority: _Optional[int] = ..., title: _Optional[str] = ..., description: _Optional[str] = ..., tags: _Optional[_Iterable[str]] = ..., replace_tags: _Optional[bool] = ...) -> None: ...

class UpdateTaskResponse(_message.Message):
    __slots__ = ("task",)
    TASK_FIELD_NUMBER: _ClassVar[int]
    task: _tasks_pb2.Task
    def __init__(self, task: _Optional[_Union[_tasks_pb2.Task, _Mapping]] = ...) -> None: ...

class DeleteTaskRequest(_message.Message):
    __slots__ = ("id",)
    ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    def __init__(self, id: _Optional[str] = ...) -> None: ...

class DeleteTaskResponse(_message.Message):
    __slots__ = ("task",)
    TASK_FIELD_NUMBER: _ClassVar[int]
    task: _tasks_pb2.Task
    def __init__(self, task: _Optional[_Union[_tasks_pb2.Task, _Mapping]] = ...) -> None: ...

class ClaimTaskRequest(_message.Message):
    __slots__ = ("id", "worker_id", "lease_duration", "capabilities", "ignore_dependencies")
    ID_FIELD_NUMBER: _ClassVar[int]
    WORKER_ID_FIELD_NUMBER: _ClassVar[int]
    LEASE_DURATION_FIELD_NUMBER: _ClassVar[int]
    CAPABILITIES_FIELD_NUMBER: _ClassVar[int]
    IGNORE_DEPENDENCIES_FIELD_NUMBER: _ClassVar[int]
    id: str
    worker_id: str
    lease_duration: _duration_pb2.Duration
    capabilities: _containers.RepeatedScalarFieldContainer[str]
    ignore_dependencies: bool
    def __init__(self, id: _Optional[str] = ..., worker_id: _Optional[str] = ..., lease_duration: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., capabilities: _Optional[_Iterable[str]] = ..., ignore_dependencies: _Optional[bool] = ...) -> None: ...

class ClaimTaskResponse(_message.Message):
    __slots__ = ("task", "lease")
    TASK_FIELD_NUMBER: _ClassVar[int]
    LEASE_FIELD_NUMBER: _ClassVar[int]
    task: _tasks_pb2.Task
    lease: _tasks_pb2.Lease
    def __init__(self, task: _Optional[_Union[_tasks_pb2.Task, _Mapping]] = ..., lease: _Optional[_Union[_tasks_pb2.Lease, _Mapping]] = ...) -> None: ...

class ClaimTasksRequest(_message.Message):
    __slots__ = ("worker_id", "queues", "capabilities", "max_tasks", "lease_duration")
    WORKER_ID_FIELD_NUMBER: _ClassVar[int]
    QUEUES_FIELD_NUMBER: _ClassVar[int]
    CAPABILITIES_FIELD_NUMBER: _ClassVar[int]
    MAX_TASKS_FIELD_NUMBER: _ClassVar[int]
    LEASE_DURATION_FIELD_NUMBER: _ClassVar[int]
    worker_id: str
    queues: _containers.RepeatedScalarFieldContainer[str]
    capabilities: _containers.RepeatedScalarFieldContainer[str]
    max_tasks: int
    lease_duration: _duration_pb2.Duration
    def __init__(self, worker_id: _Optional[str] = ..., queues: _Optional[_Iterable[str]] = ..., capabilities: _Optional[_Iterable[str]] = ..., max_tasks: _Optional[int] = ..., lease_duration: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ...) -> None: ...

class ClaimTasksResponse(_message.Message):
    __slots__ = ("assignments",)
    ASSIGNMENTS_FIELD_NUMBER: _ClassVar[int]
    assignments: _containers.RepeatedCompositeFieldContainer[_tasks_pb2.TaskAssignment]
    def __init__(self, assignments: _Optional[_Iterable[_Union[_tasks_pb2.TaskAssignment, _Mapping]]] = ...) -> None: ...

class ConnectWorkerRequest(_message.Message):
    __slots__ = ("worker_id", "queues", "capabilities", "credits", "lease_duration")
    WORKER_ID_FIELD_NUMBER: _ClassVar[int]
    QUEUES_FIELD_NUMBER: _ClassVar[int]
    CAPABILITIES_FIELD_NUMBER: _ClassVar[int]
    CREDITS_FIELD_NUMBER: _ClassVar[int]
    LEASE_DURATION_FIELD_NUMBER: _ClassVar[int]
    worker_id: str
    queues: _containers.RepeatedScalarFieldContainer[str]
    capabilities: _containers.RepeatedScalarFieldContainer[str]
    credits: int
    lease_duration: _duration_pb2.Duration
    def __init__(self, worker_id: _Optional[str] = ..., queues: _Optional[_Iterable[str]] = ..., capabilities: _Optional[_Iterable[str]] = ..., credits: _Optional[int] = ..., lease_duration: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ...) -> None: ...

class ConnectWorkerResponse(_message.Message):
    __slots__ = ("session", "assigned", "ping", "cancel")
    SESSION_FIELD_NUMBER: _ClassVar[int]
    ASSIGNED_FIELD_NUMBER: _ClassVar[int]
    PING_FIELD_NUMBER: _ClassVar[int]
    CANCEL_FIELD_NUMBER: _ClassVar[int]
    session: _tasks_pb2.WorkerSessionInfo
    assigned: _tasks_pb2.TaskAssignment
    ping: _tasks_pb2.WorkerPing
    cancel: _tasks_pb2.CancelNotice
    def __init__(self, session: _Optional[_Union[_tasks_pb2.WorkerSessionInfo, _Mapping]] = ..., assigned: _Optional[_Union[_tasks_pb2.TaskAssignment, _Mapping]] = ..., ping: _Optional[_Union[_tasks_pb2.WorkerPing, _Mapping]] = ..., cancel: _Optional[_Union[_tasks_pb2.CancelNotice, _Mapping]] = ...) -> None: ...

class GrantWorkerCreditsRequest(_message.Message):
    __slots__ = ("session_id", "credits")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    CREDITS_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    credits: int
    def __init__(self, session_id: _Optional[str] = ..., credits: _Optional[int] = ...) -> None: ...

class GrantWorkerCreditsResponse(_message.Message):
    __slots__ = ("credits",)
    CREDITS_FIELD_NUMBER: _ClassVar[int]
    credits: int
    def __init__(self, credits: _Optional[int] = ...) -> None: ...

class HeartbeatTaskRequest(_message.Message):
    __slots__ = ("id", "fencing_token", "lease_duration", "progress", "progress_message")
    ID_FIELD_NUMBER: _ClassVar[int]
    FENCING_TOKEN_FIELD_NUMBER: _ClassVar[int]
    LEASE_DURATION_FIELD_NUMBER: _ClassVar[int]
    PROGRESS_FIELD_NUMBER: _ClassVar[int]
    PROGRESS_MESSAGE_FIELD_NUMBER: _ClassVar[int]
    id: str
    fencing_token: int
    lease_duration: _duration_pb2.Duration
    progress: int
    progress_message: str
    def __init__(self, id: _Optional[str] = ..., fencing_token: _Optional[int] = ..., lease_duration: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., progress: _Optional[int] = ..., progress_message: _Optional[str] = ...) -> None: ...

class HeartbeatTaskResponse(_message.Message):
    __slots__ = ("lease", "cancel_requested")
    LEASE_FIELD_NUMBER: _ClassVar[int]
    CANCEL_REQUESTED_FIELD_NUMBER: _ClassVar[int]
    lease: _tasks_pb2.Lease
    cancel_requested: bool
    def __init__(self, lease: _Optional[_Union[_tasks_pb2.Lease, _Mapping]] = ..., cancel_requested: _Optional[bool] = ...) -> None: ...

class CompleteTaskRequest(_message.Message):
    __slots__ = ("id", "fencing_token", "result")
    ID_FIELD_NUMBER: _ClassVar[int]
    FENCING_TOKEN_FIELD_NUMBER: _ClassVar[int]
    RESULT_FIELD_NUMBER: _ClassVar[int]
    id: str
    fencing_token: int
    result: _struct_pb2.Value
    def __init__(self, id: _Optional[str] = ..., fencing_token: _Optional[int] = ..., result: _Optional[_Union[_struct_pb2.Value, _Mapping]] = ...) -> None: ...

class CompleteTaskResponse(_message.Message):
    __slots__ = ("task",)
    TASK_FIELD_NUMBER: _ClassVar[int]
    task: _tasks_pb2.Task
    def __init__(self, task: _Optional[_Union[_tasks_pb2.Task, _Mapping]] = ...) -> None: ...

class BatchCompleteTasksRequest(_message.Message):
    __slots__ = ("requests",)
    REQUESTS_FIELD_NUMBER: _ClassVar[int]
    requests: _containers.RepeatedCompositeFieldContainer[CompleteTaskRequest]
    def __init__(self, requests: _Optional[_Iterable[_Union[CompleteTaskRequest, _Mapping]]] = ...) -> None: ...

class BatchCompleteResult(_message.Message):
    __slots__ = ("id", "ok", "error_reason", "error_message")
    ID_FIELD_NUMBER: _ClassVar[int]
    OK_FIELD_NUMBER: _ClassVar[int]
    ERROR_REASON_FIELD_NUMBER: _ClassVar[int]
    ERROR_MESSAGE_FIELD_NUMBER: _ClassVar[int]
    id: str
    ok: bool
    error_reason: str
    error_message: str
    def __init__(self, id: _Optional[str] = ..., ok: _Optional[bool] = ..., error_reason: _Optional[str] = ..., error_message: _Optional[str] = ...) -> None: ...

class BatchCompleteTasksResponse(_message.Message):
    __slots__ = ("results",)
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    results: _containers.RepeatedCompositeFieldContainer[BatchCompleteResult]
    def __init__(self, results: _Optional[_Iterable[_Union[BatchCompleteResult, _Mapping]]] = ...) -> None: ...

class FailTaskRequest(_message.Message):
    __slots__ = ("id", "fencing_token", "error", "retry_delay")
    ID_FIELD_NUMBER: _ClassVar[int]
    FENCING_TOKEN_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    RETRY_DELAY_FIELD_NUMBER: _ClassVar[int]
    id: str
    fencing_token: int
    error: _tasks_pb2.TaskError
    retry_delay: _duration_pb2.Duration
    def __init__(self, id: _Optional[str] = ..., fencing_token: _Optional[int] = ..., error: _Optional[_Union[_tasks_pb2.TaskError, _Mapping]] = ..., retry_delay: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ...) -> None: ...

class FailTaskResponse(_message.Message):
    __slots__ = ("task",)
    TASK_FIELD_NUMBER: _ClassVar[int]
    task: _tasks_pb2.Task
    def __init__(self, task: _Optional[_Union[_tasks_pb2.Task, _Mapping]] = ...) -> None: ...

class ReleaseTaskRequest(_message.Message):
    __slots__ = ("id", "fencing_token", "delay")
    ID_FIELD_NUMBER: _ClassVar[int]
    FENCING_TOKEN_FIELD_NUMBER: _ClassVar[int]
    DELAY_FIELD_NUMBER: _ClassVar[int]
    id: str
    fencing_token: int
    delay: _duration_pb2.Duration
    def __init__(self, id: _Optional[str] = ..., fencing_token: _Optional[int] = ..., delay: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ...) -> None: ...

class ReleaseTaskResponse(_message.Message):
    __slots__ = ("task",)
    TASK_FIELD_NUMBER: _ClassVar[int]
    task: _tasks_pb2.Task
    def __init__(self, task: _Optional[_Union[_tasks_pb2.Task, _Mapping]] = ...) -> None: ...

class CancelTaskRequest(_message.Message):
    __slots__ = ("id", "reason")
    ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    id: str
    reason: str
    def __init__(self, id: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class CancelTaskResponse(_message.Message):
    __slots__ = ("task", "cancelled_dependents")
    TASK_FIELD_NUMBER: _ClassVar[int]
    CANCELLED_DEPENDENTS_FIELD_NUMBER: _ClassVar[int]
    task: _tasks_pb2.Task
    cancelled_dependents: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, task: _Optional[_Union[_tasks_pb2.Task, _Mapping]] = ..., cancelled_dependents: _Optional[_Iterable[str]] = ...) -> None: ...

class RetryTaskRequest(_message.Message):
    __slots__ = ("id", "run_at")
    ID_FIELD_NUMBER: _ClassVar[int]
    RUN_AT_FIELD_NUMBER: _ClassVar[int]
    id: str
    run_at: _timestamp_pb2.Timestamp
    def __init__(self, id: _Optional[str] = ..., run_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class RetryTaskResponse(_message.Message):
    __slots__ = ("task",)
    TASK_FIELD_NUMBER: _ClassVar[int]
    task: _tasks_pb2.Task
    def __init__(self, task: _Optional[_Union[_tasks_pb2.Task, _Mapping]] = ...) -> None: ...

class WatchTaskEventsRequest(_message.Message):
    __slots__ = ("task_ids", "queues", "kinds")
    TASK_IDS_FIELD_NUMBER: _ClassVar[int]
    QUEUES_FIELD_NUMBER: _ClassVar[int]
    KINDS_FIELD_NUMBER: _ClassVar[int]
    task_ids: _containers.RepeatedScalarFieldContainer[str]
    queues: _containers.RepeatedScalarFieldContainer[str]
    kinds: _containers.RepeatedScalarFieldContainer[_tasks_pb2.TaskEventKind]
    def __init__(self, task_ids: _Optional[_Iterable[str]] = ..., queues: _Optional[_Iterable[str]] = ..., kinds: _Optional[_Iterable[_Union[_tasks_pb2.TaskEventKind, str]]] = ...) -> None: ...

class WatchTaskEventsResponse(_message.Message):
    __slots__ = ("event",)
    EVENT_FIELD_NUMBER: _ClassVar[int]
    event: _tasks_pb2.TaskEvent
    def __init__(self, event: _Optional[_Union[_tasks_pb2.TaskEvent, _Mapping]] = ...) -> None: ...

class GetTaskStatsRequest(_message.Message):
    __slots__ = ("date", "queue", "top_servers_limit")
    DATE_FIELD_NUMBER: _ClassVar[int]
    QUEUE_FIELD_NUMBER: _ClassVar[int]
    TOP_SERVERS_LIMIT_FIELD_NUMBER: _ClassVar[int]
    date: str
    queue: str
    top_servers_limit: int
    def __init__(self, date: _Optional[str] = ..., queue: _Optional[str] = ..., top_servers_limit: _Optional[int] = ...) -> None: ...

class GetTaskStatsResponse(_message.Message):
    __slots__ = ("date", "total_tasks", "pending_tasks", "running_tasks", "successful_tasks", "failed_tasks", "retried_tasks", "cancelled_tasks", "counts", "average_processing_time", "server_count", "top_servers", "hourly_trend", "queues")
    DATE_FIELD_NUMBER: _ClassVar[int]
    TOTAL_TASKS_FIELD_NUMBER: _ClassVar[int]
    PENDING_TASKS_FIELD_NUMBER: _ClassVar[int]
    RUNNING_TASKS_FIELD_NUMBER: _ClassVar[int]
    SUCCESSFUL_TASKS_FIELD_NUMBER: _ClassVar[int]
    FAILED_TASKS_FIELD_NUMBER: _ClassVar[int]
    RETRIED_TASKS_FIELD_NUMBER: _ClassVar[int]
    CANCELLED_TASKS_FIELD_NUMBER: _ClassVar[int]
    COUNTS_FIELD_NUMBER: _ClassVar[int]
    AVERAGE_PROCESSING_TIME_FIELD_NUMBER: _ClassVar[int]
    SERVER_COUNT_FIELD_NUMBER: _ClassVar[int]
    TOP_SERVERS_FIELD_NUMBER: _ClassVar[int]
    HOURLY_TREND_FIELD_NUMBER: _ClassVar[int]
    QUEUES_FIELD_NUMBER: _ClassVar[int]
    date: str
    total_tasks: int
    pending_tasks: int
    running_tasks: int
    successful_tasks: int
    failed_tasks: int
    retried_tasks: int
    cancelled_tasks: int
    counts: _tasks_pb2.TaskCounts
    average_processing_time: _duration_pb2.Duration
    server_count: int
    top_servers: _containers.RepeatedCompositeFieldContainer[_tasks_pb2.WorkerStat]
    hourly_trend: _containers.RepeatedCompositeFieldContainer[HourlyTrend]
    queues: _containers.RepeatedCompositeFieldContainer[_tasks_pb2.QueueStat]
    def __init__(self, date: _Optional[str] = ..., total_tasks: _Optional[int] = ..., pending_tasks: _Optional[int] = ..., running_tasks: _Optional[int] = ..., successful_tasks: _Optional[int] = ..., failed_tasks: _Optional[int] = ..., retried_tasks: _Optional[int] = ..., cancelled_tasks: _Optional[int] = ..., counts: _Optional[_Union[_tasks_pb2.TaskCounts, _Mapping]] = ..., average_processing_time: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., server_count: _Optional[int] = ..., top_servers: _Optional[_Iterable[_Union[_tasks_pb2.WorkerStat, _Mapping]]] = ..., hourly_trend: _Optional[_Iterable[_Union[HourlyTrend, _Mapping]]] = ..., queues: _Optional[_Iterable[_Union[_tasks_pb2.QueueStat, _Mapping]]] = ...) -> None: ...

class HourlyTrend(_message.Message):
    __slots__ = ("hour", "tasks")
    HOUR_FIELD_NUMBER: _ClassVar[int]
    TASKS_FIELD_NUMBER: _ClassVar[int]
    hour: int
    tasks: int
    def __init__(self, hour: _Optional[int] = ..., tasks: _Optional[int] = ...) -> None: ...

class GetHourlyTaskStatsRequest(_message.Message):
    __slots__ = ("date", "queue")
    DATE_FIELD_NUMBER: _ClassVar[int]
    QUEUE_FIELD_NUMBER: _ClassVar[int]
    date: str
    queue: str
    def __init__(self, date: _Optional[str] = ..., queue: _Optional[str] = ...) -> None: ...

class GetHourlyTaskStatsResponse(_message.Message):
    __slots__ = ("date", "hours")
    DATE_FIELD_NUMBER: _ClassVar[int]
    HOURS_FIELD_NUMBER: _ClassVar[int]
    date: str
    hours: _containers.RepeatedCompositeFieldContainer[_tasks_pb2.HourlyStat]
    def __init__(self, date: _Optional[str] = ..., hours: _Optional[_Iterable[_Union[_tasks_pb2.HourlyStat, _Mapping]]] = ...) -> None: ...

class GetWorkerTaskStatsRequest(_message.Message):
    __slots__ = ("worker_id", "date")
    WORKER_ID_FIELD_NUMBER: _ClassVar[int]
    DATE_FIELD_NUMBER: _ClassVar[int]
    worker_id: str
    date: str
    def __init__(self, worker_id: _Optional[str] = ..., date: _Optional[str] = ...) -> None: ...

class GetWorkerTaskStatsResponse(_message.Message):
    __slots__ = ("stats", "running_tasks")
    STATS_FIELD_NUMBER: _ClassVar[int]
    RUNNING_TASKS_FIELD_NUMBER: _ClassVar[int]
    stats: _tasks_pb2.WorkerStat
    running_tasks: int
    def __init__(self, stats: _Optional[_Union[_tasks_pb2.WorkerStat, _Mapping]] = ..., running_tasks: _Optional[int] = ...) -> None: ...
