"""A Python worker on Switchyard's worker stream (grpcio): holds ConnectWorker, works on every
task pushed to it for `work_ms`, completes it with its fencing token, and stops once the queue
has `total` succeeded tasks. Prints one JSON line: worker id, ids it completed, refusals."""
import json
import queue as queues
import sys
import threading
import time

import grpc

target, stubs, worker_id, queue_name, total, work_ms, credits = sys.argv[1:8]
sys.path.insert(0, stubs)
from google.protobuf import duration_pb2, struct_pb2  # noqa: E402
from switchyard.tasks.v1 import queues_service_pb2 as queues_pb2  # noqa: E402
from switchyard.tasks.v1 import queues_service_pb2_grpc as queues_grpc  # noqa: E402
from switchyard.tasks.v1 import tasks_service_pb2 as tasks_pb2  # noqa: E402
from switchyard.tasks.v1 import tasks_service_pb2_grpc as tasks_grpc  # noqa: E402

total, work_ms, credits = int(total), int(work_ms), int(credits)
inbox: "queues.Queue" = queues.Queue()
out = {"worker": worker_id, "completed": [], "refused": [], "session": None, "cancel_notices": 0}

with grpc.insecure_channel(target) as channel:
    tasks = tasks_grpc.TaskServiceStub(channel)
    queue_service = queues_grpc.QueueServiceStub(channel)
    stream = tasks.ConnectWorker(
        tasks_pb2.ConnectWorkerRequest(
            worker_id=worker_id, queues=[queue_name], credits=credits, lease_duration=duration_pb2.Duration(seconds=60)
        ),
        timeout=120,
    )

    def read():
        try:
            for message in stream:
                inbox.put(message)
        except grpc.RpcError as error:
            if error.code() != grpc.StatusCode.CANCELLED:
                inbox.put(error)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    deadline = time.monotonic() + 100
    while time.monotonic() < deadline:
        try:
            message = inbox.get(timeout=0.2)
        except queues.Empty:
            # Idle: stop once the whole batch is done (by anyone).
            q = queue_service.GetQueue(queues_pb2.GetQueueRequest(name=queue_name), timeout=5).queue
            if q.counts.succeeded >= total:
                break
            continue
        if isinstance(message, grpc.RpcError):
            raise message
        kind = message.WhichOneof("message")
        if kind == "session":
            out["session"] = message.session.session_id
        elif kind == "cancel":
            out["cancel_notices"] += 1
        elif kind == "assigned":
            task, lease = message.assigned.task, message.assigned.lease
            time.sleep(work_ms / 1000)  # the work
            result = struct_pb2.Value(string_value=f"{worker_id}:{task.payload.number_value:.0f}")
            try:
                tasks.CompleteTask(
                    tasks_pb2.CompleteTaskRequest(id=task.id, fencing_token=lease.fencing_token, result=result), timeout=10
                )
                out["completed"].append(task.id)
            except grpc.RpcError as error:
                out["refused"].append({"id": task.id, "code": error.code().name})
    stream.cancel()

print(json.dumps(out))
