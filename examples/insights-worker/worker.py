"""Reference insights worker for Switchyard (gRPC, grpcio): serves every task type of queue
`insights` with deterministic scripted output instead of a model.

    python worker.py <host:port> <stubs dir> <worker id> [--queues insights,deploy] [--delay-ms MS]
                     [--malformed] [--fail] [--fail-step detect|provision|deploy]

Holds `TaskService.ConnectWorker` on queues `insights` and `deploy` and, for each task it is given, builds
the result from the payload alone (same payload, same result):

- `next_steps.generate`: `{ next_steps: [{ title, description, rationale, priority, category }] }`,
  `max_count` of them, titled after the project's files and intent.
- `decisions.extract`: `{ decisions: [{ title, decision, rationale, conversation_id, message_id,
  concepts }] }`, one per user message that says "decide", "use" or "choose".
- `drift.analyze`: `{ source_changes_summary, target_changes_summary, risk_level,
  can_auto_sync, recommendation, conflicting_files }` from the file lists.
- `conversation.turn`: streams its reply word by word as progress messages
  (`HeartbeatTask(progress_message="<offset>:<delta>")`, offset = length of the reply sent so
  far), then completes with `{ content, changed_files }`. With `[ask]` in the prompt it first asks
  a question (`progress_message="question:{json}"`) and waits for `question_q1` in its task's
  metadata (the user's answer or rejection).
- `action_item.run`: `{ summary, report, patch, checks, files: [{ path, content }] }`, rewriting
  the item's files.
- `snapshot.summarize`: `{ summary }` counting the changed files.
- `atlas.diagram`: `{ title, nodes, edges }` of the first 20 concepts given.
- `code.analyze` (the background jobs): `{ findings }`, one `refactoring` finding naming the
  changed files (none when nothing changed).
- `drift.analyze` also returns a `test_coverage` finding when changed files include no test.
- queue `deploy`: `credentials.validate` fetches the token with `GetTaskCredential` (as the
  task's holder) and calls it valid when it starts with `valid-`; `deploy.detect` →
  `deploy.provision` (a resource per requested one, with connection info) → `deploy.run` (a
  URL); `resource.destroy` → `{ destroyed: true }`.
- any other type: `{ ok: true, type }`.

`--delay-ms` sleeps before answering (a slow worker), `--malformed` answers results that do not
fill their message (the server must fail the task), `--fail` fails every task, `--fail-step`
fails one step of the deploy chain. Prints one JSON
line per task and a summary when it stops (SIGTERM/SIGINT).
"""
import json
import signal
import sys
import threading
import time

import os

import grpc

target, stubs, worker_id = sys.argv[1:4]
args = sys.argv[4:]
delay = int(args[args.index("--delay-ms") + 1]) / 1000 if "--delay-ms" in args else 0
malformed = "--malformed" in args
fail_all = "--fail" in args
fail_step = args[args.index("--fail-step") + 1] if "--fail-step" in args else ""
queues = args[args.index("--queues") + 1].split(",") if "--queues" in args else ["insights", "deploy"]
sys.path.insert(0, stubs)
from google.protobuf import duration_pb2, json_format, struct_pb2  # noqa: E402
from switchyard.tasks.v1 import tasks_pb2 as tpb  # noqa: E402
from switchyard.tasks.v1 import tasks_service_pb2 as tspb  # noqa: E402
from switchyard.tasks.v1 import tasks_service_pb2_grpc as tgrpc  # noqa: E402
from switchyard.workspaces.v1 import infrastructure_service_pb2 as ipb  # noqa: E402
from switchyard.workspaces.v1 import infrastructure_service_pb2_grpc as igrpc  # noqa: E402

# With SWITCHYARD_API_TOKEN set, every call carries it as a bearer token.
token = os.environ.get("SWITCHYARD_API_TOKEN", "")
md = [("authorization", f"Bearer {token}")] if token else []
stopping = threading.Event()
lock = threading.Lock()
summary = {"worker": worker_id, "tasks": 0}


def emit(line):
    with lock:
        print(json.dumps(line), flush=True)


def next_steps(p):
    project = p.get("project", {})
    files = p.get("files", [])
    n = int(p.get("max_count", 5))
    categories = ["feature", "test", "docs", "refactor", "fix"]
    priorities = ["high", "medium", "low"]
    out = []
    for i in range(n):
        subject = files[i % len(files)] if files else project.get("name", "the project")
        out.append({
            "title": f"Step {i + 1}: work on {subject}",
            "description": f"Scripted suggestion {i + 1} for {project.get('name', '')} ({project.get('intent', '') or 'no intent'}).",
            "rationale": f"{len(files)} file(s) in the latest snapshot.",
            "priority": priorities[i % 3],
            "category": categories[i % 5],
        })
    return {"next_steps": out}


def decisions(p):
    out = []
    for c in p.get("conversations", []):
        for m in c.get("messages", []):
            text = m.get("content", "")
            if m.get("role") == "user" and any(w in text.lower() for w in ("decide", "use ", "choose")):
                words = [w.strip(".,!?").lower() for w in text.split() if len(w) > 3]
                out.append({
                    "title": text[:60],
                    "decision": text,
                    "rationale": "stated by the user",
                    "conversation_id": c["id"],
                    "message_id": m["id"],
                    "concepts": words[:3],
                })
    return {"decisions": out}


def drift(p):
    d = p.get("drift", {})
    added, modified, deleted = d.get("added", []), d.get("modified", []), d.get("deleted", [])
    changed = len(added) + len(modified) + len(deleted)
    risk = "low" if not modified else ("medium" if len(modified) < 5 else "high")
    return {
        "source_changes_summary": f"main: {len(added)} added, {len(modified)} modified, {len(deleted)} deleted",
        "target_changes_summary": f"{changed} file(s) differ from main",
        "risk_level": risk,
        "can_auto_sync": not modified,
        "recommendation": "Sync now." if not modified else f"Review {', '.join(modified)} before syncing.",
        "conflicting_files": modified,
        # A scripted code-analysis finding: changed files without a test among them.
        "findings": [] if not modified or any("test" in f for f in modified + added) else [
            {"type": "test_coverage", "severity": "medium", "title": "Changed files have no tests", "description": "Add tests for the changed files.", "files": modified}
        ],
    }


def analyze(p):
    # code.analyze (the background jobs): one scripted refactoring finding naming the changed files.
    files = p.get("changed_files", [])[:10]
    if not files:
        return {"findings": []}
    return {"findings": [{"type": "refactoring", "severity": "low", "title": "Review recently changed files", "description": f"{len(files)} file(s) changed since main.", "files": files}]}


def action_run(p):
    item = p.get("item", {})
    files = [{"path": f["path"], "content": f"fixed: {item.get('title', '')}\n"} for f in p.get("files", [])]
    patch = "".join(f"--- a/{f['path']}\n+++ b/{f['path']}\n@@ -1 +1 @@\n+{f['content']}" for f in files)
    return {
        "summary": f"Scripted fix for {item.get('title', '')}",
        "report": f"# Report\n\n{len(files)} file(s) changed.",
        "patch": patch,
        "checks": [{"name": "build", "status": "passed", "output": "ok"}, {"name": "test", "status": "passed", "output": "1 passed"}],
        "files": files,
    }


def ask(tasks, task, lease):
    """Asks the user a question (a `question:` progress message), waits for the answer in the task's metadata."""
    question = {"id": "q1", "questions": [{"question": "Where should it deploy?", "options": ["fly", "railway"]}]}
    tasks.HeartbeatTask(tspb.HeartbeatTaskRequest(id=task.id, fencing_token=lease.fencing_token, progress_message="question:" + json.dumps(question)), timeout=10, metadata=md)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and not stopping.is_set():
        got = tasks.GetTask(tspb.GetTaskRequest(id=task.id), timeout=10, metadata=md).task
        meta = json_format.MessageToDict(got.metadata) if got.HasField("metadata") else {}
        if "question_q1" in meta:
            answer = meta["question_q1"]
            return "rejected" if answer.get("status") == "rejected" else ", ".join(a for lst in answer.get("answers", []) for a in lst)
        time.sleep(0.1)
    return "no answer"


def turn(tasks, task, lease, p):
    reply = f"Scripted reply to: {p.get('prompt', '')}"
    if "[ask]" in p.get("prompt", ""):
        reply += f" (answer: {ask(tasks, task, lease)})"
    sent = ""
    for word in reply.split(" "):
        # `<offset>:<delta>`: the offset (length of the reply sent so far) lets the server ignore replays.
        delta = word + " "
        tasks.HeartbeatTask(tspb.HeartbeatTaskRequest(id=task.id, fencing_token=lease.fencing_token, progress_message=f"{len(sent)}:{delta}"), timeout=10, metadata=md)
        sent += delta
    changed = ["README.md"] if "[edit]" in p.get("prompt", "") else []
    return {"content": reply + " ", "changed_files": changed}


def credential(channel, task, lease, provider):
    """The provider token, asked for as the task's holder (never printed)."""
    infra = igrpc.InfrastructureServiceStub(channel)
    return infra.GetTaskCredential(ipb.GetTaskCredentialRequest(task_id=task.id, fencing_token=lease.fencing_token, provider=provider), timeout=10, metadata=md).api_token


def deploy_step(channel, task, lease, p):
    step = task.type.split(".")[-1] if task.type.startswith("deploy.") else task.type
    if fail_step and fail_step == step:
        raise RuntimeError(f"scripted failure of {step}")
    if task.type == "credentials.validate":
        token = credential(channel, task, lease, p["provider"])
        return {"valid": token.startswith("valid-"), "message": "" if token.startswith("valid-") else "token refused", "account": "scripted-account"}
    if task.type == "deploy.detect":
        return {"runtime": p.get("detection", {}).get("runtime", ""), "notes": "scripted detection"}
    if task.type == "deploy.provision":
        credential(channel, task, lease, p["provider"])
        return {"resources": [{
            "type": r["type"], "name": r["name"], "provider_resource_id": f"{p['provider']}-{r['name']}",
            "connection": {"host": f"{r['name']}.example.internal", "port": 5432, "password": "scripted-secret", "url": f"postgres://u:scripted-secret@{r['name']}.example.internal/db"},
            "env_var_keys": ["DATABASE_URL"] if r["type"] == "database" else ["REDIS_URL"],
        } for r in p.get("resources", [])]}
    if task.type == "deploy.run":
        credential(channel, task, lease, p["provider"])
        return {"url": f"https://{p['workspace_id']}.{p['provider']}.example.app"}
    if task.type == "resource.destroy":
        credential(channel, task, lease, p["provider"])
        return {"destroyed": True}
    return None


def diagram(p):
    concepts = p.get("concepts", [])[:20]
    ids = {c["id"] for c in concepts}
    return {
        "title": f"{p.get('type', '')} diagram of {len(concepts)} concept(s)",
        "nodes": [{"id": c["id"], "label": c["name"], "concept_id": c["id"], "group": c.get("layer", "")} for c in concepts],
        "edges": [{"source": e["source_id"], "target": e["target_id"], "label": e["type"]} for e in p.get("edges", []) if e["source_id"] in ids and e["target_id"] in ids],
    }


def bad(kind):
    # Results that do not fill their message: a wrong type where a list or a string must be.
    return {"next_steps": "none"} if kind == "next_steps.generate" else {"decisions": [{"title": 3}]} if kind == "decisions.extract" else {"risk_level": "catastrophic"}


def run(channel, task, lease):
    tasks = tgrpc.TaskServiceStub(channel)
    payload = json_format.MessageToDict(task.payload) if task.HasField("payload") else {}
    outcome = {"task": task.id, "type": task.type}
    try:
        if delay:
            time.sleep(delay)
        if fail_all:
            tasks.FailTask(tspb.FailTaskRequest(id=task.id, fencing_token=lease.fencing_token, error=tpb.TaskError(message="scripted failure", reason="SCRIPTED_FAILURE")), timeout=10, metadata=md)
            outcome["result"] = "failed"
        else:
            if malformed:
                result = bad(task.type)
            elif task.type == "next_steps.generate":
                result = next_steps(payload)
            elif task.type == "decisions.extract":
                result = decisions(payload)
            elif task.type == "drift.analyze":
                result = drift(payload)
            elif task.type.startswith("deploy.") or task.type in ("credentials.validate", "resource.destroy"):
                result = deploy_step(channel, task, lease, payload)
            elif task.type == "snapshot.summarize":
                result = {"summary": f"{len(payload.get('added', []))} added, {len(payload.get('modified', []))} modified, {len(payload.get('deleted', []))} deleted"}
            elif task.type == "atlas.diagram":
                result = diagram(payload)
            elif task.type == "code.analyze":
                result = analyze(payload)
            elif task.type == "action_item.run":
                result = action_run(payload)
            elif task.type == "conversation.turn":
                result = turn(tasks, task, lease, payload)
            else:
                result = {"ok": True, "type": task.type}
            value = struct_pb2.Value()
            json_format.ParseDict(result, value)
            done = tasks.CompleteTask(tspb.CompleteTaskRequest(id=task.id, fencing_token=lease.fencing_token, result=value), timeout=10, metadata=md)
            outcome["result"] = tpb.TaskState.Name(done.task.state) if done.HasField("task") else "completed"
    except grpc.RpcError as error:
        outcome["result"] = f"refused: {error.code().name}"
    except RuntimeError as error:
        tasks.FailTask(tspb.FailTaskRequest(id=task.id, fencing_token=lease.fencing_token, error=tpb.TaskError(message=str(error), reason="STEP_FAILED")), timeout=10, metadata=md)
        outcome["result"] = "failed"
    with lock:
        summary["tasks"] += 1
    emit({"task_done": outcome})


def main():
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    signal.signal(signal.SIGINT, lambda *_: stopping.set())
    with grpc.insecure_channel(target) as channel:
        tasks = tgrpc.TaskServiceStub(channel)
        stream = tasks.ConnectWorker(
            tspb.ConnectWorkerRequest(worker_id=worker_id, queues=queues, credits=4, lease_duration=duration_pb2.Duration(seconds=60)),
            metadata=md,
        )
        threading.Thread(target=lambda: (stopping.wait(), stream.cancel()), daemon=True).start()
        try:
            for message in stream:
                kind = message.WhichOneof("message")
                if kind == "session":
                    emit({"connected": message.session.session_id})
                elif kind == "assigned":
                    threading.Thread(target=run, args=(channel, message.assigned.task, message.assigned.lease), daemon=True).start()
        except grpc.RpcError as error:
            if error.code() != grpc.StatusCode.CANCELLED:
                emit({"stream_error": error.code().name})
    emit({"summary": summary})


if __name__ == "__main__":
    main()
