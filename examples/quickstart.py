"""Creates a task and runs one worker that completes it, over gRPC (grpcio).

    bash scripts/gen-stubs.sh python stubs        # once: stubs from proto/ into ./stubs
    PYTHONPATH=stubs .venv/bin/python examples/quickstart.py localhost:8080
"""
import sys

import grpc
from google.protobuf import struct_pb2
from switchyard.tasks.v1 import tasks_pb2, tasks_service_pb2 as t, tasks_service_pb2_grpc as trpc

target = sys.argv[1] if len(sys.argv) > 1 else "localhost:8080"
token = sys.argv[2] if len(sys.argv) > 2 else None  # SWITCHYARD_API_TOKEN, when the server has one
metadata = [("authorization", f"Bearer {token}")] if token else []

with grpc.insecure_channel(target) as channel:
    tasks = trpc.TaskServiceStub(channel)

    # A client creates a task in queue "quickstart".
    created = tasks.CreateTask(
        t.CreateTaskRequest(task=tasks_pb2.Task(queue="quickstart", title="resize cat.png")), metadata=metadata
    ).task
    print("created", created.id, tasks_pb2.TaskState.Name(created.state))

    # A worker holds a stream; the server pushes tasks within the credits it grants.
    stream = tasks.ConnectWorker(
        t.ConnectWorkerRequest(worker_id="quickstart-worker", queues=["quickstart"], credits=1),
        metadata=metadata,
        timeout=30,
    )
    for message in stream:
        if message.WhichOneof("message") != "assigned":
            continue  # the session info first, then pings
        task, lease = message.assigned.task, message.assigned.lease
        result = struct_pb2.Value(string_value=f"done: {task.title}")
        # The fencing token proves this worker still holds the task.
        tasks.CompleteTask(t.CompleteTaskRequest(id=task.id, fencing_token=lease.fencing_token, result=result), metadata=metadata)
        if task.id == created.id:
            break
    stream.cancel()

    done = tasks.GetTask(t.GetTaskRequest(id=created.id), metadata=metadata).task
    print("finished", done.id, tasks_pb2.TaskState.Name(done.state), done.result.string_value)
