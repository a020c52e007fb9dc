"""Reference agent worker for Switchyard (gRPC, grpcio): the protocol a Claude Code or OpenCode
worker speaks, with scripted output instead of a model.

    python worker.py <host:port> <stubs dir> <worker id> [--credits N] [--delay-ms MS]

1. Holds `TaskService.ConnectWorker` on queue `agents`, advertising the capability
   `agent-worker:<worker id>` (so probes pinned to it reach it).
2. `agents.probe` tasks are completed at once.
3. `agents.session` tasks: fetches the session's credentials (`GetSessionCredentials`, with the
   task's fencing token; the key is used, never printed), then reports events with
   `AppendSessionEvents` (status, claude_start, claude_delta…, claude_end, file_change,
   complete) and the token usage of each turn, then completes the task.
4. A cancel notice on the worker stream, or `stop` in an append answer, stops the session at once.

The prompt steers the script: `[turns=N]` (default 1), `[delay=MS]` between events, `[fail]`
(ends with an `error` event and fails the task), `[tokens=N]` and `[cost=X]` per turn.
Prints one JSON line per finished session, and a summary line when it stops (SIGTERM/SIGINT).
"""
import json
import re
import signal
import sys
import threading
import time

import grpc

target, stubs, worker_id = sys.argv[1:4]
args = sys.argv[4:]
credits = int(args[args.index("--credits") + 1]) if "--credits" in args else 4
default_delay = int(args[args.index("--delay-ms") + 1]) if "--delay-ms" in args else 20
sys.path.insert(0, stubs)
from google.protobuf import duration_pb2, timestamp_pb2  # noqa: E402
from switchyard.agents.v1 import agent_session_service_pb2 as spb  # noqa: E402
from switchyard.agents.v1 import agent_session_service_pb2_grpc as sgrpc  # noqa: E402
from switchyard.agents.v1 import agents_pb2 as apb  # noqa: E402
from switchyard.tasks.v1 import tasks_pb2 as tpb  # noqa: E402
from switchyard.tasks.v1 import tasks_service_pb2 as tspb  # noqa: E402
from switchyard.tasks.v1 import tasks_service_pb2_grpc as tgrpc  # noqa: E402

stopping = threading.Event()
cancelled: dict = {}
lock = threading.Lock()
summary = {"worker": worker_id, "sessions": [], "probes": 0, "cancel_notices": 0}


def emit(line):
    with lock:
        print(json.dumps(line), flush=True)


def now():
    ts = timestamp_pb2.Timestamp()
    ts.GetCurrentTime()
    return ts


def directive(prompt, name, default):
    m = re.search(r"\[" + name + r"=([0-9.]+)\]", prompt)
    return type(default)(m.group(1)) if m else default


def run_session(channel, task, lease):
    sessions = sgrpc.AgentSessionServiceStub(channel)
    tasks = tgrpc.TaskServiceStub(channel)
    payload = task.payload.struct_value if task.payload.HasField("struct_value") else None
    session_id = payload["sessionId"] if payload else ""
    prompt = payload["prompt"] if payload else ""
    repo = payload["repository"]["name"] if payload else ""
    token = lease.fencing_token
    outcome = {"session": session_id, "task": task.id, "events": 0, "result": None}
    creds = sessions.GetSessionCredentials(spb.GetSessionCredentialsRequest(session_id=session_id, fencing_token=token), timeout=10)
    outcome["key_received"] = creds.anthropic_api_key.startswith("sk-ant-")
    turns = directive(prompt, "turns", 1)
    delay = directive(prompt, "delay", default_delay) / 1000
    tokens = directive(prompt, "tokens", 100)
    cost = directive(prompt, "cost", 0.01)

    last_beat = [time.monotonic()]

    def send(events, usage=None):
        if cancelled.get(task.id) or stopping.is_set():
            raise InterruptedError("cancelled")
        if time.monotonic() - last_beat[0] > 20:  # the lease is 60 s: keep it while the agent works
            tasks.HeartbeatTask(tspb.HeartbeatTaskRequest(id=task.id, fencing_token=token), timeout=10)
            last_beat[0] = time.monotonic()
        answer = sessions.AppendSessionEvents(
            spb.AppendSessionEventsRequest(session_id=session_id, fencing_token=token, events=events, usage=usage), timeout=10
        )
        outcome["events"] += len(events)
        if answer.stop:
            raise InterruptedError("stop")
        time.sleep(delay)

    try:
        send([apb.SessionEvent(timestamp=now(), status=apb.SessionMessage(message=f"Cloning {repo}"))])
        for turn in range(1, turns + 1):
            send([apb.SessionEvent(timestamp=now(), claude_start=apb.ClaudeStart(turn=turn, prompt=prompt))])
            for word in f"Turn {turn}: scripted answer to the prompt.".split(" "):
                send([apb.SessionEvent(timestamp=now(), claude_delta=apb.ClaudeDelta(turn=turn, content=word + " "))])
            usage = apb.SessionUsage(input_tokens=tokens // 2, output_tokens=tokens - tokens // 2, cost_usd=cost)
            send([apb.SessionEvent(timestamp=now(), claude_end=apb.ClaudeEnd(turn=turn))], usage)
        if "[fail]" in prompt:
            send([apb.SessionEvent(timestamp=now(), error=apb.SessionError(message="scripted failure", reason="AGENT_FAILED"))])
            tasks.FailTask(tspb.FailTaskRequest(id=task.id, fencing_token=token, error=tpb.TaskError(message="scripted failure", reason="AGENT_FAILED")), timeout=10)
            outcome["result"] = "failed"
        else:
            send([apb.SessionEvent(timestamp=now(), file_change=apb.FileChange(message="1 file changed", workspace_dir=f"/work/{session_id}", paths=["README.md"]))])
            send([apb.SessionEvent(timestamp=now(), complete=apb.SessionComplete(session_id=session_id, turns=turns))])
            tasks.CompleteTask(tspb.CompleteTaskRequest(id=task.id, fencing_token=token), timeout=10)
            outcome["result"] = "completed"
    except InterruptedError as why:
        outcome["result"] = str(why)
        if str(why) == "stop":
            # Over the tenant's daily budget: say so, then give the task up for good.
            try:
                sessions.AppendSessionEvents(spb.AppendSessionEventsRequest(session_id=session_id, fencing_token=token, events=[
                    apb.SessionEvent(timestamp=now(), error=apb.SessionError(message="Daily quota exceeded", reason="QUOTA_EXCEEDED"))]), timeout=10)
                tasks.FailTask(tspb.FailTaskRequest(id=task.id, fencing_token=token, error=tpb.TaskError(message="daily quota exceeded", reason="QUOTA_EXCEEDED")), timeout=10)
            except grpc.RpcError as error:
                outcome["result"] = f"stop, then refused: {error.code().name}"
    except grpc.RpcError as error:
        outcome["result"] = f"refused: {error.code().name}"
    with lock:
        summary["sessions"].append(outcome)
    emit({"session_done": outcome})


def main():
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    signal.signal(signal.SIGINT, lambda *_: stopping.set())
    with grpc.insecure_channel(target) as channel:
        tasks = tgrpc.TaskServiceStub(channel)
        stream = tasks.ConnectWorker(
            tspb.ConnectWorkerRequest(
                worker_id=worker_id, queues=["agents"], capabilities=[f"agent-worker:{worker_id}"], credits=credits,
                lease_duration=duration_pb2.Duration(seconds=60),
            )
        )
        threading.Thread(target=lambda: (stopping.wait(), stream.cancel()), daemon=True).start()
        try:
            for message in stream:
                kind = message.WhichOneof("message")
                if kind == "session":
                    emit({"connected": message.session.session_id})
                elif kind == "cancel":
                    cancelled[message.cancel.task_id] = True
                    summary["cancel_notices"] += 1
                    emit({"cancel": message.cancel.task_id})
                elif kind == "assigned":
                    task, lease = message.assigned.task, message.assigned.lease
                    if task.type == "agents.probe":
                        tasks.CompleteTask(tspb.CompleteTaskRequest(id=task.id, fencing_token=lease.fencing_token), timeout=10)
                        summary["probes"] += 1
                    else:
                        threading.Thread(target=run_session, args=(channel, task, lease), daemon=True).start()
        except grpc.RpcError as error:
            if error.code() != grpc.StatusCode.CANCELLED:
                emit({"stream_error": error.code().name})
    emit({"summary": summary})


if __name__ == "__main__":
    main()
