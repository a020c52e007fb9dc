"""A Python worker's view of Switchyard over real gRPC (grpcio): prints one JSON line per check."""
import json
import sys

import grpc

sys.path.insert(0, sys.argv[2])
from google.rpc import error_details_pb2, status_pb2  # noqa: E402
from grpc_health.v1 import health_pb2, health_pb2_grpc  # noqa: E402
from switchyard.system.v1 import system_service_pb2 as system_pb2  # noqa: E402
from switchyard.system.v1 import system_service_pb2_grpc as system_grpc  # noqa: E402

target = sys.argv[1]
token = sys.argv[3] if len(sys.argv) > 3 else None
metadata = [("authorization", f"Bearer {token}")] if token else []
out = {}

with grpc.insecure_channel(target) as channel:
    system = system_grpc.SystemServiceStub(channel)
    health = health_pb2_grpc.HealthStub(channel)

    # Unary.
    info = system.GetInfo(system_pb2.GetInfoRequest(), metadata=metadata, timeout=5)
    out["version"] = info.version
    check = health.Check(health_pb2.HealthCheckRequest(service=""), timeout=5)
    out["serving"] = health_pb2.HealthCheckResponse.ServingStatus.Name(check.status)

    # Server streaming: three messages, then cancel.
    stream = system.WatchHealth(system_pb2.WatchHealthRequest(interval={"nanos": 100_000_000}), metadata=metadata, timeout=10)
    statuses = []
    for message in stream:
        statuses.append(system_pb2.HealthStatus.Name(message.health.status))
        if len(statuses) == 3:
            stream.cancel()
            break
    out["stream"] = statuses

    # not_found with its google.rpc.ErrorInfo reason from grpc-status-details-bin.
    try:
        system.GetSetting(system_pb2.GetSettingRequest(name="missing.setting"), metadata=metadata, timeout=5)
        out["not_found"] = None
    except grpc.RpcError as error:
        details = dict(error.trailing_metadata() or ()).get("grpc-status-details-bin")
        status = status_pb2.Status.FromString(details)
        reasons = []
        for detail in status.details:
            info = error_details_pb2.ErrorInfo()
            if detail.Unpack(info):
                reasons.append(info.reason)
        out["not_found"] = {"code": error.code().name, "reasons": reasons, "message": error.details()}

    # Unknown service on the standard health check is NOT_FOUND.
    try:
        health.Check(health_pb2.HealthCheckRequest(service="no.such.Service"), timeout=5)
    except grpc.RpcError as error:
        out["unknown_service"] = error.code().name

print(json.dumps(out))
