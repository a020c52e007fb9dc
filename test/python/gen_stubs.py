"""Generates Python gRPC stubs from proto/ into the given folder (run in the test setup)."""
import sys
from pathlib import Path

import grpc_tools
from grpc_tools import protoc

root = Path(__file__).resolve().parents[2]
out = Path(sys.argv[1])
out.mkdir(parents=True, exist_ok=True)
# grpc.health.v1 comes from the grpcio-health-checking package (a local copy would shadow `grpc`).
protos = [str(p.relative_to(root / "proto")) for p in (root / "proto" / "switchyard").rglob("*.proto")]
google = root / "node_modules" / "google-proto-files"
extra = ["google/rpc/status.proto", "google/rpc/error_details.proto", "google/api/annotations.proto",
         "google/api/http.proto", "google/api/field_behavior.proto", "google/api/httpbody.proto"]
wkt = Path(grpc_tools.__file__).parent / "_proto"
args = ["protoc", f"-I{root / 'proto'}", f"-I{google}", f"-I{wkt}", f"--python_out={out}", f"--grpc_python_out={out}", *protos, *extra]
# No __init__.py files: `google` and `switchyard` stay namespace packages beside protobuf's `google`.
sys.exit(protoc.main(args))
