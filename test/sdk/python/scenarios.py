"""Scenarios of the Python SDK against a real server, run by test/sdk/python-sdk.test.ts with the
installed package (.venv-sdk). Usage: scenarios.py TARGET SCENARIO QUEUE [JSON options].
Prints one JSON line with what happened."""
import asyncio
import json
import os
import sys
import threading
import time

from switchyard_sdk import Client, NonRetryableError, RetryableError, Worker

target, scenario, queue = sys.argv[1:4]
opts = json.loads(sys.argv[4]) if len(sys.argv) > 4 else {}
out = {}


def struct_value(v):
    from google.protobuf import struct_pb2

    return struct_pb2.Value(number_value=v)


def finish(worker=None, **extra):
    if worker is not None:
        out.update(stats=worker.stats, completed=worker.completed_ids)
    out.update(extra)
    print(json.dumps(out), flush=True)


if scenario == "thousand":
    # Enqueue N in batches with the client, drain them with one worker, stop when all are done.
    n = opts["n"]
    with Client(target) as client:
        created = client.enqueue_many({"queue": queue, "type": "double", "payload": i} for i in range(n))
        worker = Worker(target, queues=[queue], worker_id="py-thousand", concurrency=opts.get("concurrency", 16), max_tasks=n)

        @worker.handler("double")
        def double(task):
            return task.payload * 2

        t0 = time.monotonic()
        worker.run(install_signals=False)
        elapsed = time.monotonic() - t0
        finish(worker, created=len(created), counts=client.queue_counts(queue), elapsed_ms=round(elapsed * 1000))

elif scenario == "raw":
    # The loop a worker writes over the generated stubs alone (for the benchmark): hold the
    # stream, complete each pushed task with its fencing token (async futures, credits = concurrency).
    import grpc
    from switchyard_sdk._proto.switchyard.tasks.v1 import tasks_service_pb2 as tpb
    from switchyard_sdk._proto.switchyard.tasks.v1 import tasks_service_pb2_grpc as trpc

    n = opts["n"]
    with Client(target) as client:
        client.enqueue_many({"queue": queue, "type": "double", "payload": i} for i in range(n))
        stub = trpc.TaskServiceStub(client.channel)
        done = threading.Semaphore(0)
        t0 = time.monotonic()
        stream = stub.ConnectWorker(tpb.ConnectWorkerRequest(worker_id="py-raw", queues=[queue], credits=opts.get("concurrency", 16)))
        seen = 0
        for message in stream:
            if message.WhichOneof("message") != "assigned":
                continue
            a = message.assigned
            f = stub.CompleteTask.future(tpb.CompleteTaskRequest(id=a.task.id, fencing_token=a.lease.fencing_token,
                                                                result=struct_value(a.task.payload.number_value * 2)))
            f.add_done_callback(lambda _: done.release())
            seen += 1
            if seen == n:
                break
        for _ in range(n):
            done.acquire()
        elapsed = time.monotonic() - t0
        stream.cancel()
        finish(None, completed_count=n, elapsed_ms=round(elapsed * 1000))

elif scenario == "outcomes":
    # Retryable failure then success, a non-retryable failure, an async handler with progress,
    # waiting for results with the client.
    with Client(target) as client:
        flaky = client.enqueue(queue, "flaky", {"x": 1}, max_attempts=3)
        bad = client.enqueue(queue, "bad", None, max_attempts=3)
        slow = client.enqueue(queue, "progress", {"steps": 3})
        unknown = client.enqueue(queue, "nobody-handles-this", None, max_attempts=3)
        worker = Worker(target, queues=[queue], worker_id="py-outcomes", concurrency=4)
        attempts = []

        @worker.handler("flaky")
        def flaky_handler(task):
            attempts.append(task.attempt)
            if task.attempt == 1:
                raise RetryableError("try again", reason="FLAKY", retry_delay=0.05)
            return {"attempt": task.attempt}

        @worker.handler("bad")
        def bad_handler(task):
            raise NonRetryableError("cannot ever work", reason="BAD_INPUT", details={"why": "test"})

        @worker.handler("progress")
        async def progress_handler(task):
            for step in range(task.payload["steps"]):
                task.progress(int(100 * (step + 1) / task.payload["steps"]), f"step {step + 1}")
                await asyncio.sleep(0.05)
            return "async done"

        worker.start()
        results = {name: client.wait(t.id, timeout=30) for name, t in
                   {"flaky": flaky, "bad": bad, "progress": slow, "unknown": unknown}.items()}
        worker.stop()
        finish(worker, attempts=attempts, results={k: {"state": v.state, "result": v.result, "error": v.error, "attempt": v.attempt,
                                                         "progress": v.progress, "progress_message": v.progress_message}
                                                     for k, v in results.items()})

elif scenario == "cancel":
    # A sync handler sees the cancel as a flag; an async one as CancelledError.
    with Client(target) as client:
        seen = {}
        started = {"sync": threading.Event(), "async": threading.Event()}
        worker = Worker(target, queues=[queue], worker_id="py-cancel", concurrency=2, lease_duration=5)

        @worker.handler("sync")
        def sync_handler(task):
            started["sync"].set()
            seen["sync_cancelled"] = task.wait_cancelled(20)
            seen["sync_reason"] = task.cancel_reason
            task.raise_if_cancelled()
            return "not cancelled"

        @worker.handler("async")
        async def async_handler(task):
            started["async"].set()
            try:
                await asyncio.sleep(20)
            except asyncio.CancelledError:
                seen["async_cancelled"] = True
                raise
            return "not cancelled"

        worker.start()
        a = client.enqueue(queue, "sync", None)
        b = client.enqueue(queue, "async", None)
        for e in started.values():
            e.wait(20)
        t0 = time.monotonic()
        client.cancel(a.id, reason="test")
        client.cancel(b.id, reason="test")
        for _ in range(200):
            if "sync_cancelled" in seen and "async_cancelled" in seen:
                break
            time.sleep(0.05)
        seen["delivered_s"] = round(time.monotonic() - t0, 3)
        # The worker keeps working after cancels: its slots were given back.
        started["sync"].clear()
        after = client.enqueue(queue, "sync", None)
        started["sync"].wait(20)
        client.cancel(after.id)
        final = [client.wait(t.id, timeout=20).state for t in (a, b, after)]
        worker.stop()
        finish(worker, seen=seen, states=final)

elif scenario == "work":
    # A long-running worker for the drain and crash tests: handlers that take `ms` each.
    # Prints "ready" once it runs; at exit (SIGTERM drain or all done) prints its stats.
    ms = opts.get("ms", 20)
    executions = []
    worker = Worker(target, queues=[queue], worker_id=opts.get("worker_id", "py-work"), concurrency=opts.get("concurrency", 4),
                    lease_duration=opts.get("lease", 10), max_tasks=opts.get("max_tasks"), drain_timeout=opts.get("drain", 10))

    worker.on_event = lambda kind, data: kind == "refused" and print(f"refused {data}", file=sys.stderr, flush=True)

    @worker.handler("*")
    def work(task):
        executions.append(task.id)
        time.sleep(ms / 1000)
        return {"by": worker.worker_id, "payload": task.payload}

    print(json.dumps({"ready": True}), flush=True)
    worker.run()
    finish(worker, executions=executions)

elif scenario == "runqy":
    # A module written for runqy-python, unchanged, run as a program with the shim installed.
    import runpy

    os.environ.update(SWITCHYARD_SERVER=target, SWITCHYARD_QUEUE=queue, SWITCHYARD_WORKER_ID="py-runqy")
    print(json.dumps({"ready": True}), flush=True)
    runpy.run_path(os.path.join(os.path.dirname(__file__), "runqy_module.py"), run_name="__main__")
    finish(stopped=True)
else:
    sys.exit(f"unknown scenario {scenario}")
