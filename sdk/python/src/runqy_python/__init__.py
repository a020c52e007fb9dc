"""runqy-python compatibility: task modules written for runqy (`from runqy_python import task,
load, run`) run unchanged on a Switchyard worker stream.

Same contract as runqy-python: `@load` runs once before the first task and its return value, when
not None, is passed as the handler's second argument; `@task` registers the one handler, called
with the task's payload; `RetryableError` asks for another attempt, any other exception fails the
task for good; `run()` processes tasks until SIGTERM/SIGINT (the running task finishes first),
`run_once()` processes one task and returns.

Where runqy's worker process would pipe tasks over stdin, the worker here connects itself, from
the environment: SWITCHYARD_SERVER (host:port, default localhost:8080), SWITCHYARD_QUEUE
(comma-separated, default "default"), SWITCHYARD_WORKER_ID, SWITCHYARD_CONCURRENCY (default 1),
SWITCHYARD_LEASE_SECONDS (default 30), SWITCHYARD_API_TOKEN."""
import os
from typing import Any, Callable, Optional

from switchyard_sdk.errors import NonRetryableError, RetryableError
from switchyard_sdk.worker import TaskContext, Worker

__all__ = ["task", "load", "run", "run_once", "RetryableError"]

_handler: Optional[Callable[..., Any]] = None
_loader: Optional[Callable[[], Any]] = None


def task(func: Callable[..., Any]) -> Callable[..., Any]:
    """Registers the task handler: `fn(payload)` or, with a `@load` function, `fn(payload, ctx)`."""
    global _handler
    _handler = func
    return func


def load(func: Callable[[], Any]) -> Callable[[], Any]:
    """Registers the function run once at start; its return value is the handler's `ctx`."""
    global _loader
    _loader = func
    return func


def _worker(**overrides: Any) -> Worker:
    if _handler is None:
        raise RuntimeError("No task handler registered. Use @task decorator.")
    handler = _handler
    ctx = _loader() if _loader is not None else None

    def run_task(t: TaskContext) -> Any:
        payload = t.payload if t.payload is not None else {}
        try:
            return handler(payload, ctx) if ctx is not None else handler(payload)
        except RetryableError:
            raise
        except Exception as error:  # runqy: anything but RetryableError is final
            raise NonRetryableError(f"{type(error).__name__}: {error}", reason=type(error).__name__) from error

    env = os.environ
    options: dict = dict(
        queues=[q.strip() for q in env.get("SWITCHYARD_QUEUE", "default").split(",") if q.strip()],
        concurrency=int(env.get("SWITCHYARD_CONCURRENCY", "1")),
        lease_duration=float(env.get("SWITCHYARD_LEASE_SECONDS", "30")),
        token=env.get("SWITCHYARD_API_TOKEN") or None,
    )
    if env.get("SWITCHYARD_WORKER_ID"):
        options["worker_id"] = env["SWITCHYARD_WORKER_ID"]
    options.update(overrides)
    worker = Worker(env.get("SWITCHYARD_SERVER", "localhost:8080"), **options)
    worker.register("*", run_task)
    return worker


def run() -> None:
    """Loads, then processes tasks until SIGTERM or SIGINT (graceful: running tasks finish)."""
    _worker().run()


def run_once() -> None:
    """Loads, processes one task, and returns."""
    _worker(concurrency=1, max_tasks=1).run()
