"""Regenerates the grpcio stubs shipped inside the package (src/switchyard_sdk/_proto) from
the repository's proto/ folder. Run with a Python that has grpcio-tools (the repo's .venv):

    .venv/bin/python sdk/python/generate.py

Imports in the generated files are rewritten to live under `switchyard_sdk._proto`, so the
package never shadows another `switchyard` or `google` package in the same environment."""
import re
import shutil
import sys
from pathlib import Path

import grpc_tools
from grpc_tools import protoc

here = Path(__file__).resolve().parent
root = here.parents[1]
# An argument writes elsewhere (the freshness test compares the two).
out = Path(sys.argv[1]) if len(sys.argv) > 1 else here / "src" / "switchyard_sdk" / "_proto"
PREFIX = "switchyard_sdk._proto"

protos = [
    "switchyard/tasks/v1/tasks.proto",
    "switchyard/tasks/v1/tasks_service.proto",
    "switchyard/tasks/v1/queues_service.proto",
    "switchyard/system/v1/system_service.proto",
]
google = root / "node_modules" / "google-proto-files"
extra = ["google/rpc/status.proto", "google/rpc/error_details.proto", "google/api/annotations.proto",
         "google/api/http.proto", "google/api/field_behavior.proto"]
wkt = Path(grpc_tools.__file__).parent / "_proto"

if out.exists():
    shutil.rmtree(out)
out.mkdir(parents=True)
args = ["protoc", f"-I{root / 'proto'}", f"-I{google}", f"-I{wkt}", f"--python_out={out}", f"--pyi_out={out}",
        f"--grpc_python_out={out}", *protos, *extra]
if protoc.main(args) != 0:
    sys.exit("protoc failed")

pattern = re.compile(r"^(from|import) (switchyard|google\.api|google\.rpc)([\. ])", re.M)
for path in out.rglob("*.py*"):
    text = path.read_text()
    path.write_text(pattern.sub(lambda m: f"{m.group(1)} {PREFIX}.{m.group(2)}{m.group(3)}", text))
for folder in [out, *[p for p in out.rglob("*") if p.is_dir()]]:
    (folder / "__init__.py").touch()
print(f"wrote {sum(1 for _ in out.rglob('*_pb2*.py'))} modules to {out}")
