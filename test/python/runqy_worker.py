"""A runqy-style worker on Switchyard: registers through `POST /worker/register` with the body
the public runqy worker sends (queue, hostname, os, version; no worker_id), then holds the worker
stream (TaskService.ConnectWorker) under the worker id it was given, completes `total` tasks,
and reads itself back from `GET /api/cli/workers/{id}` while the stream is open. Prints one
JSON line: the registration answer, the worker as listed, the ids completed."""
import json
import queue as queues
import sys
import threading
import time
import urllib.request

import grpc

base_url, target, stubs, queue_name, total = sys.argv[1:6]
total = int(total)
sys.path.insert(0, stubs)
from switchyard.tasks.v1 import tasks_service_pb2 as tasks_pb2  # noqa: E402
from switchyard.tasks.v1 import tasks_service_pb2_grpc as tasks_grpc  # noqa: E402
from google.protobuf import struct_pb2  # noqa: E402


def http(method, path, body=None):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(base_url + path, data=data, method=method, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=10) as res:
        return res.status, json.loads(res.read())


status, registered = http("POST", "/worker/register", {"queue": queue_name, "hostname": "py-host", "os": "linux", "version": "1.2.3"})
assert status == 200, status
worker_id = registered["worker_id"]
out = {"registered": registered, "completed": [], "listed": None}
inbox: "queues.Queue" = queues.Queue()

with grpc.insecure_channel(target) as channel:
    tasks = tasks_grpc.TaskServiceStub(channel)
    stream = tasks.ConnectWorker(tasks_pb2.ConnectWorkerRequest(worker_id=worker_id, queues=[queue_name], credits=4), timeout=60)

    def read():
        try:
            for message in stream:
                inbox.put(message)
        except grpc.RpcError as error:
            if error.code() != grpc.StatusCode.CANCELLED:
                inbox.put(error)

    threading.Thread(target=read, daemon=True).start()
    deadline = time.monotonic() + 45
    while len(out["completed"]) < total and time.monotonic() < deadline:
        try:
            message = inbox.get(timeout=0.2)
        except queues.Empty:
            continue
        if isinstance(message, grpc.RpcError):
            raise message
        if message.WhichOneof("message") == "assigned":
            task, lease = message.assigned.task, message.assigned.lease
            tasks.CompleteTask(
                tasks_pb2.CompleteTaskRequest(id=task.id, fencing_token=lease.fencing_token, result=struct_pb2.Value(string_value=worker_id)),
                timeout=10,
            )
            out["completed"].append(task.id)
    _, out["listed"] = http("GET", f"/api/cli/workers/{worker_id}")
    stream.cancel()

print(json.dumps(out))
