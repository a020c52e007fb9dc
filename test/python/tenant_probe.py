"""Tenant B probing tenant A's resources over real gRPC (grpcio): prints one JSON line of outcomes."""
import json
import sys

import grpc

sys.path.insert(0, sys.argv[2])
from switchyard.mail.v1 import lease_service_pb2 as lease_pb2  # noqa: E402
from switchyard.mail.v1 import lease_service_pb2_grpc as lease_grpc  # noqa: E402
from switchyard.mail.v1 import mail_service_pb2 as mail_pb2  # noqa: E402
from switchyard.mail.v1 import mail_service_pb2_grpc as mail_grpc  # noqa: E402
from switchyard.tasks.v1 import tasks_service_pb2 as tasks_pb2  # noqa: E402
from switchyard.tasks.v1 import tasks_service_pb2_grpc as tasks_grpc  # noqa: E402

target, _, token, task_id, sequence, path, secret = sys.argv[1:8]
md = [("authorization", f"Bearer {token}")]
out = {}


def code_of(call):
    try:
        call()
        return "OK"
    except grpc.RpcError as error:
        return error.code().name


with grpc.insecure_channel(target) as channel:
    tasks = tasks_grpc.TaskServiceStub(channel)
    mail = mail_grpc.MailServiceStub(channel)
    leases = lease_grpc.LeaseServiceStub(channel)
    out["get_task"] = code_of(lambda: tasks.GetTask(tasks_pb2.GetTaskRequest(id=task_id), metadata=md, timeout=5))
    out["cancel_task"] = code_of(lambda: tasks.CancelTask(tasks_pb2.CancelTaskRequest(id=task_id), metadata=md, timeout=5))
    out["claim_task"] = code_of(lambda: tasks.ClaimTask(tasks_pb2.ClaimTaskRequest(id=task_id, worker_id="py"), metadata=md, timeout=5))
    out["get_message"] = code_of(lambda: mail.GetMessage(mail_pb2.GetMessageRequest(sequence=int(sequence)), metadata=md, timeout=5))
    out["get_lease"] = code_of(lambda: leases.GetLease(lease_pb2.GetLeaseRequest(path=path), metadata=md, timeout=5))
    listed = tasks.ListTasks(tasks_pb2.ListTasksRequest(page_size=1000), metadata=md, timeout=5)
    history = mail.ListMessages(mail_pb2.ListMessagesRequest(topic=">", page_size=1000), metadata=md, timeout=5)
    out["leaked"] = secret in str(listed) or secret in str(history) or task_id in str(listed)
    out["no_token"] = code_of(lambda: tasks.GetTask(tasks_pb2.GetTaskRequest(id=task_id), timeout=5))

print(json.dumps(out))
