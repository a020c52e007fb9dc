"""Switchyard SDK: a client (enqueue, get, wait, watch) and a worker (handlers by task type on a
worker stream) for Switchyard's task API over gRPC."""
from ._convert import TaskEvent, TaskInfo
from .client import Client, open_channel
from .errors import NonRetryableError, RetryableError, SwitchyardError, TaskCancelled, TaskFailure
from .worker import TaskContext, Worker

__all__ = [
    "Client",
    "Worker",
    "TaskContext",
    "TaskInfo",
    "TaskEvent",
    "SwitchyardError",
    "TaskFailure",
    "RetryableError",
    "NonRetryableError",
    "TaskCancelled",
    "open_channel",
]
__version__ = "0.1.0"
