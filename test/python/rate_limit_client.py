"""Calls IntegrationService.GetIntegrationStatus `n` times over grpcio and prints, as one JSON
line, the rate-limit metadata of each answer (initial metadata) or of each refusal (trailers),
with the status code and the google.rpc.RetryInfo delay decoded from grpc-status-details-bin."""
import json
import sys

import grpc

target, stubs, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
sys.path.insert(0, stubs)
from google.rpc import error_details_pb2, status_pb2  # noqa: E402
from switchyard.agents.v1 import integration_service_pb2 as pb  # noqa: E402
from switchyard.agents.v1 import integration_service_pb2_grpc as rpc  # noqa: E402

out = []
with grpc.insecure_channel(target) as channel:
    stub = rpc.IntegrationServiceStub(channel)
    for _ in range(n):
        try:
            _, call = stub.GetIntegrationStatus.with_call(pb.GetIntegrationStatusRequest(), timeout=10)
            md = dict(call.initial_metadata())
            out.append({"code": "OK", "remaining": md.get("x-ratelimit-remaining"), "limit": md.get("x-ratelimit-limit"), "reset": md.get("x-ratelimit-reset")})
        except grpc.RpcError as error:
            md = dict(error.trailing_metadata() or ())
            md.update(dict(error.initial_metadata() or ()))
            retry = None
            details = md.get("grpc-status-details-bin")
            if details:
                status = status_pb2.Status.FromString(details)
                for d in status.details:
                    if d.Is(error_details_pb2.RetryInfo.DESCRIPTOR):
                        info = error_details_pb2.RetryInfo()
                        d.Unpack(info)
                        retry = info.retry_delay.seconds
            out.append({"code": error.code().name, "retry_after": md.get("retry-after"), "remaining": md.get("x-ratelimit-remaining"), "retry_info_seconds": retry})
print(json.dumps(out))
