"""A grpcio client of AgentSessionService: starts a session and reads its whole stream, then
re-attaches with WatchSession after the third event. Prints one JSON line: both streams'
events as [sequence, payload name]."""
import json
import sys

import grpc

target, stubs, prompt = sys.argv[1], sys.argv[2], sys.argv[3]
sys.path.insert(0, stubs)
from switchyard.agents.v1 import agent_session_service_pb2 as pb  # noqa: E402
from switchyard.agents.v1 import agent_session_service_pb2_grpc as rpc  # noqa: E402
from switchyard.agents.v1 import agents_pb2 as apb  # noqa: E402

with grpc.insecure_channel(target) as channel:
    stub = rpc.AgentSessionServiceStub(channel)
    request = pb.StartSessionRequest(prompt=prompt, repository=apb.Repository(name="owner/repo"))
    started = [(m.event.sequence, m.event.WhichOneof("payload"), m.event.session_id) for m in stub.StartSession(request, timeout=30)]
    session_id = started[0][2]
    watched = [(m.event.sequence, m.event.WhichOneof("payload")) for m in stub.WatchSession(pb.WatchSessionRequest(session_id=session_id, after_sequence=3), timeout=30)]
    print(json.dumps({"session": session_id, "started": [[s, n] for s, n, _ in started], "watched": watched}))
