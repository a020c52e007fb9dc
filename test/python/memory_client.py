"""An agent's view of Switchyard memory over real gRPC (grpcio): stores, searches (full-text,
semantic, hybrid), compacts, and reports what it saw as one JSON line."""
import json
import sys

import grpc

sys.path.insert(0, sys.argv[2])
from google.rpc import error_details_pb2, status_pb2  # noqa: E402
from switchyard.memory.v1 import memory_pb2  # noqa: E402
from switchyard.memory.v1 import memory_service_pb2 as pb  # noqa: E402
from switchyard.memory.v1 import memory_service_pb2_grpc as rpc  # noqa: E402

target = sys.argv[1]
out = {}


def reason(error):
    details = dict(error.trailing_metadata() or ()).get("grpc-status-details-bin")
    if not details:
        return None
    for d in status_pb2.Status.FromString(details).details:
        info = error_details_pb2.ErrorInfo()
        if d.Unpack(info):
            return {"reason": info.reason, "metadata": dict(info.metadata)}
    return None


with grpc.insecure_channel(target) as channel:
    memory = rpc.MemoryServiceStub(channel)
    texts = ["the car would not start", "my automobile's engine failed", "a recipe for bread", "the car would not start"]
    ids = []
    for i, t in enumerate(texts):
        m = memory.CreateMemory(pb.CreateMemoryRequest(memory=memory_pb2.Memory(content=t, type="python_agent", importance=0.2 + i / 10), request_id=f"py-{i}"), timeout=10).memory
        ids.append(m.id)
        out.setdefault("states", []).append(memory_pb2.EmbeddingState.Name(m.embedding_state))
    out["replayed"] = memory.CreateMemory(pb.CreateMemoryRequest(memory=memory_pb2.Memory(content="other", type="python_agent"), request_id="py-0"), timeout=10).memory.id == ids[0]
    got = memory.GetMemory(pb.GetMemoryRequest(id=ids[0], include_embedding=True), timeout=10).memory
    out["dimensions"] = len(got.embedding)
    out["access_count"] = got.access_count
    out["text"] = [r.memory.content for r in memory.SearchMemories(pb.SearchMemoriesRequest(query="bread", filter=memory_pb2.MemoryFilter(types=["python_agent"])), timeout=10).results]
    sem = memory.SemanticSearchMemories(pb.SemanticSearchMemoriesRequest(query_text="vehicle breakdown", top_k=3, filter=memory_pb2.MemoryFilter(types=["python_agent"])), timeout=10)
    out["semantic"] = [r.memory.content for r in sem.results]
    hyb = memory.HybridSearchMemories(pb.HybridSearchMemoriesRequest(query="engine", top_k=2), timeout=10)
    out["hybrid"] = [{"content": r.memory.content, "rankers": list(r.rankers)} for r in hyb.results]
    c = memory.CompactMemories(pb.CompactMemoriesRequest(filter=memory_pb2.MemoryFilter(types=["python_agent"]), wait=True), timeout=30)
    out["compaction"] = {"completed": c.completed, "merged": c.merged_count, "task_state": c.task_state, "task_id": c.task_id}
    try:
        memory.SemanticSearchMemories(pb.SemanticSearchMemoriesRequest(query_embedding=[0.5, 0.5]), timeout=10)
    except grpc.RpcError as error:
        out["bad_vector"] = {"code": error.code().name, **(reason(error) or {})}
    batch = memory.BatchCreateMemories(pb.BatchCreateMemoriesRequest(requests=[
        pb.CreateMemoryRequest(memory=memory_pb2.Memory(content=f"batch item {i}", type="python_batch", tags=["py"])) for i in range(3)]), timeout=10)
    out["batch"] = len(batch.memories)
    up = memory.UpdateMemory(pb.UpdateMemoryRequest(id=batch.memories[0].id, importance=0.95, update_mask={"paths": ["importance"]}), timeout=10).memory
    out["updated_importance"] = round(up.importance, 2)
    page = memory.ListMemories(pb.ListMemoriesRequest(type="python_batch", page_size=2), timeout=10)
    out["list"] = {"count": len(page.memories), "more": page.next_page_token != ""}
    memory.DeleteMemory(pb.DeleteMemoryRequest(id=batch.memories[1].id), timeout=10)
    try:
        memory.GetMemory(pb.GetMemoryRequest(id=batch.memories[1].id), timeout=10)
    except grpc.RpcError as error:
        out["deleted"] = {"code": error.code().name, **(reason(error) or {})}
    stats = memory.GetMemoryStats(pb.GetMemoryStatsRequest(), timeout=10).stats
    out["stats"] = {"python_batch": stats.count_by_type.get("python_batch", 0), "model": stats.embedding_model.model}
    dry = memory.BackfillEmbeddings(pb.BackfillEmbeddingsRequest(dry_run=True), timeout=10)
    out["backfill_dry_run"] = {"dry_run": dry.dry_run, "queue": dry.queue}
    model = memory.GetEmbeddingModel(pb.GetEmbeddingModelRequest(), timeout=10).embedding_model
    out["model"] = {"model": model.model, "dimensions": model.dimensions, "provider": model.provider, "vector_index": model.vector_index}

print(json.dumps(out))
