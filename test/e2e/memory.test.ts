// The memory domain end to end: a real server on port 0 over a real SQLite file, embedding with
// the real all-MiniLM-L6-v2 model through the OpenAI-compatible port (a Python test server),
// called over gRPC (Python grpcio), Connect, REST and seed 000's legacy routes.
import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import { join } from "node:path";
import { MemoryService } from "../../gen/switchyard/memory/v1/memory_service_pb.js";
import { TaskService } from "../../gen/switchyard/tasks/v1/tasks_service_pb.js";
import { clientFor } from "../../src/testing/clients.ts";
import { startEmbedServer, type EmbedServer } from "../../src/testing/embed-server.ts";
import { preparePython, runPython } from "../../src/testing/python.ts";
import { repoRoot, startTestServer, type TestServer } from "../../src/testing/server.ts";

let server: TestServer;
let embed: EmbedServer;
let py: { python: string; stubs: string };
beforeAll(async () => {
  [embed, py] = await Promise.all([startEmbedServer(), preparePython()]);
  server = await startTestServer({ SWITCHYARD_EMBEDDINGS_URL: embed.url, SWITCHYARD_EMBEDDINGS_TIMEOUT_MS: "3000" });
}, 180_000);
afterAll(async () => {
  await server?.close();
  await embed?.close();
});

async function http(method: string, path: string, body?: unknown): Promise<{ status: number; body: any }> {
  const r = await fetch(server.url + path, { method, headers: { "content-type": "application/json" }, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await r.text();
  return { status: r.status, body: text ? JSON.parse(text) : undefined };
}

describe("semantic search with a real sentence-embedding model", () => {
  it("over Connect: a paraphrase finds its memory, an unrelated text does not", async () => {
    const c = clientFor(MemoryService, server.url, "connect");
    for (const content of ["my automobile's engine failed", "a recipe for bread", "the quarterly report is due friday"]) {
      await c.createMemory({ memory: { content, type: "paraphrase" } });
    }
    const model = (await c.getEmbeddingModel({})).embeddingModel!;
    expect(model).toMatchObject({ model: "all-MiniLM-L6-v2", dimensions: 384, provider: "openai-compatible", vectorIndex: "sqlite-vec", metric: "cosine" });
    const { results } = await c.semanticSearchMemories({ queryText: "the car would not start", topK: 3, filter: { types: ["paraphrase"] } });
    expect(results[0]!.memory!.content).toBe("my automobile's engine failed");
    expect(results[0]!.score).toBeGreaterThan(0.4);
    const bread = results.find((r) => r.memory!.content === "a recipe for bread")!;
    expect(bread.score).toBeLessThan(0.2);
    const above = await c.semanticSearchMemories({ queryText: "the car would not start", minScore: 0.3, filter: { types: ["paraphrase"] } });
    expect(above.results.map((r) => r.memory!.content)).toEqual(["my automobile's engine failed"]);
    // hybrid: no shared word, found by the semantic ranker only
    const h = await c.hybridSearchMemories({ query: "vehicle breakdown", topK: 1, filter: { types: ["paraphrase"] } });
    expect(h.results[0]!.memory!.content).toBe("my automobile's engine failed");
    expect(h.results[0]!.rankers).toEqual(["semantic"]);
  });

  it("over gRPC from Python: stores, searches by text, meaning and both, compacts as a task", async () => {
    const out = (await runPython(py.python, [join(repoRoot, "test/python/memory_client.py"), `127.0.0.1:${server.port}`, py.stubs], 60_000)) as any;
    expect(out.states).toEqual(["EMBEDDING_STATE_READY", "EMBEDDING_STATE_READY", "EMBEDDING_STATE_READY", "EMBEDDING_STATE_READY"]);
    expect(out.replayed).toBe(true);
    expect(out.dimensions).toBe(384);
    expect(Number(out.access_count)).toBe(1);
    expect(out.text).toEqual(["a recipe for bread"]);
    // top 3 of 4: the two copies of the sentence and its paraphrase, not the bread recipe
    expect(out.semantic.sort()).toEqual(["my automobile's engine failed", "the car would not start", "the car would not start"]);
    expect(out.hybrid[0]).toEqual({ content: "my automobile's engine failed", rankers: ["text", "semantic"] });
    expect(out.compaction).toMatchObject({ completed: true, merged: 1, task_state: "succeeded" });
    expect(out.bad_vector).toMatchObject({ code: "INVALID_ARGUMENT", reason: "EMBEDDING_DIMENSION_MISMATCH", metadata: { field: "query_embedding", dimensions: "2", expected_dimensions: "384" } });
    expect(out.model).toEqual({ model: "all-MiniLM-L6-v2", dimensions: 384, provider: "openai-compatible", vector_index: "sqlite-vec" });
    expect(out.batch).toBe(3);
    expect(out.updated_importance).toBe(0.95);
    expect(out.list).toEqual({ count: 2, more: true });
    expect(out.deleted).toMatchObject({ code: "NOT_FOUND", reason: "MEMORY_NOT_FOUND" });
    expect(out.stats).toEqual({ python_batch: 2, model: "all-MiniLM-L6-v2" });
    expect(out.backfill_dry_run).toEqual({ dry_run: true, queue: "memory.embeddings" });
    const tasks = clientFor(TaskService, server.url, "grpc");
    const t = (await tasks.getTask({ id: out.compaction.task_id })).task!;
    expect(t.queue).toBe("memory.compaction");
    expect(t.progress).toBe(100);
  });
});

describe("REST and bad input", () => {
  it("serves the canonical routes", async () => {
    const created = await http("POST", "/v1/memories", { memory: { content: "REST stored this", type: "rest", tags: ["a"] }, ttl: "3600s" });
    expect(created.status).toBe(200);
    const id = created.body.memory.id;
    expect(created.body.memory.embedding_state).toBe("EMBEDDING_STATE_READY");
    expect((await http("GET", `/v1/memories/${id}`)).body.memory.access_count).toBe("1");
    const patched = await http("PATCH", `/v1/memories/${id}`, { importance: 0.9, update_mask: "importance" });
    expect(patched.body.memory.importance).toBe(0.9);
    expect((await http("GET", "/v1/memories?type=rest")).body.memories).toHaveLength(1);
    const s = await http("POST", "/v1/memories:search", { query: "stored" });
    expect(s.body.results[0].snippet).toBe("REST <mark>stored</mark> this");
    expect((await http("GET", "/v1/memories:stats")).body.stats.count_by_type.rest).toBe("1");
    expect((await http("DELETE", `/v1/memories/${id}`)).status).toBe(200);
    expect((await http("GET", `/v1/memories/${id}`)).status).toBe(404);
  });

  const cases = [
    { name: "empty content", path: "/v1/memories", body: { memory: { content: "", type: "x" } }, want: { status: 400, field: "memory.content" } },
    { name: "content over 64 KiB", path: "/v1/memories", body: { memory: { content: "x".repeat(65 * 1024), type: "x" } }, want: { status: 400, field: "memory.content" } },
    { name: "33 tags", path: "/v1/memories", body: { memory: { content: "x", type: "x", tags: Array.from({ length: 33 }, (_, i) => `t${i}`) } }, want: { status: 400, field: "memory.tags" } },
    { name: "vector of the wrong dimension", path: "/v1/memories", body: { memory: { content: "x", type: "x", embedding: [1, 2] } }, want: { status: 400, field: "memory.embedding", reason: "EMBEDDING_DIMENSION_MISMATCH" } },
    { name: "101 memories in a batch", path: "/v1/memories:batchCreate", body: { requests: Array.from({ length: 101 }, () => ({ memory: { content: "x", type: "x" } })) }, want: { status: 400, field: "requests" } },
    { name: "unparsable FTS5 query", path: "/v1/memories:search", body: { query: "NEAR(", rawQuery: true }, want: { status: 400, field: "query", reason: "INVALID_SEARCH_QUERY" } },
    { name: "k over 100", path: "/v1/memories:semanticSearch", body: { queryText: "x", topK: 500 }, want: { status: 400, field: "top_k" } },
    { name: "backfill batch over 1000", path: "/v1/memories:backfill", body: { batchSize: 5000 }, want: { status: 400, field: "batch_size" } },
    { name: "threshold over 1", path: "/v1/memories:compact", body: { merge: { similarityThreshold: 3 } }, want: { status: 400, field: "merge.similarity_threshold" } },
  ];
  for (const c of cases) {
    it(`answers 400 naming the field: ${c.name}`, async () => {
      const r = await http("POST", c.path, c.body);
      expect(r.status).toBe(c.want.status);
      expect(r.body.error.metadata.field).toBe(c.want.field);
      if (c.want.reason) expect(r.body.error.reason).toBe(c.want.reason);
    });
  }

  it("stores a memory without embedding while the embedder is down, answers semantic search unavailable with the cause, backfills later", async () => {
    await embed.control({ fail: true });
    let id: string;
    try {
      const r = await http("POST", "/v1/memories", { memory: { content: "remember me while the model is down", type: "outage" } });
      expect(r.status).toBe(200);
      expect(r.body.memory.embedding_state).toBe("EMBEDDING_STATE_MISSING");
      expect(r.body.embedding_error).toContain("HTTP 503");
      id = r.body.memory.id;
      const s = await http("POST", "/v1/memories:semanticSearch", { queryText: "model down" });
      expect(s.status).toBe(503);
      expect(s.body.error.reason).toBe("EMBEDDER_UNAVAILABLE");
      expect(s.body.error.message).toContain("HTTP 503");
      // Health names the engine that is failing.
      const health = (await http("GET", "/v1/system/health")).body.health;
      const component = health.components.find((c: { name: string }) => c.name === "embeddings");
      expect(component.status).toBe("degraded");
      expect(health.status).toBe("HEALTH_STATUS_DEGRADED");
    } finally {
      await embed.control({ fail: false });
    }
    const stats = (await http("GET", "/api/memory/stats")).body;
    expect(stats.withoutEmbedding).toBeGreaterThanOrEqual(1);
    const b = await http("POST", "/api/memory/backfill", { batchSize: 10 });
    expect(b.status).toBe(200);
    expect(b.body.processed).toBeGreaterThanOrEqual(1);
    expect((await http("GET", `/api/memory/${id!}`)).body.hasEmbedding).toBe(true);
    const after = (await http("GET", "/v1/system/health")).body.health;
    expect(after.components.find((c: { name: string }) => c.name === "embeddings").status).toBe("operational");
  });
});

describe("a slow embedder", () => {
  it("stores the memory without its embedding once the embedder's timeout passes", async () => {
    await embed.control({ delay_ms: 4000 });
    try {
      const r = await http("POST", "/api/memory", { type: "slow", content: "written while the model was slow" });
      expect(r.status).toBe(201);
      const got = await http("GET", `/v1/memories/${r.body.id}`);
      expect(got.body.memory.embedding_state).toBe("EMBEDDING_STATE_MISSING");
    } finally {
      await embed.control({ delay_ms: 0 });
    }
  }, 20_000);
});

describe("seed 000 legacy routes: every HttpMemoryStore method", () => {
  it("store, retrieve, updateImportance, search, semanticSearch(ByQuery), getByType, getRecentMemories, getStats/getEmbeddingStats, delete", async () => {
    const stored = await http("POST", "/api/memory", { type: "agent_learning", content: "Always run the linter before pushing", importance: 0.6, metadata: { from: "review" } });
    expect(stored.status).toBe(201);
    const id = stored.body.id as string;
    const got = await http("GET", `/api/memory/${id}`);
    expect(got.body).toMatchObject({ id, type: "agent_learning", content: "Always run the linter before pushing", importance: 0.6, metadata: { from: "review" }, accessCount: 1 });
    expect(Date.parse(got.body.createdAt)).toBeGreaterThan(0);
    expect(Date.parse(got.body.lastAccessed)).toBeGreaterThanOrEqual(Date.parse(got.body.createdAt));
    expect(got.body.embedding).toHaveLength(384);
    const up = await http("PATCH", `/api/memory/${id}`, { importance: 7 });
    expect(up.body.importance).toBe(1); // clamped, as Jetpack does
    const text = await http("POST", "/api/memory/search", { query: "linter", limit: 5 });
    expect(text.body.map((m: any) => m.id)).toEqual([id]);
    const byQuery = await http("POST", "/api/memory/semantic", { query: "lint your code prior to a push", limit: 1 });
    expect(byQuery.body[0].id).toBe(id);
    const byVector = await http("POST", "/api/memory/semantic", { embedding: got.body.embedding, limit: 1 });
    expect(byVector.body[0].id).toBe(id);
    expect((await http("GET", "/api/memory/type/agent_learning?limit=10")).body.map((m: any) => m.id)).toEqual([id]);
    const recent = await http("GET", "/api/memory?limit=2");
    expect(recent.body).toHaveLength(2);
    expect(recent.body[0].id).toBe(id);
    const stats = (await http("GET", "/api/memory/stats")).body;
    expect(stats).toMatchObject({ byType: { agent_learning: 1 } });
    expect(stats.total).toBe(stats.withEmbedding + stats.withoutEmbedding);
    expect(typeof stats.avgImportance).toBe("number");
    expect(stats.totalAccesses).toBeGreaterThanOrEqual(1);
    expect((await http("DELETE", `/api/memory/${id}`)).body).toEqual({ deleted: true });
    expect(await http("GET", `/api/memory/${id}`)).toEqual({ status: 404, body: { error: "Memory not found" } });
    expect((await http("DELETE", `/api/memory/${id}`)).status).toBe(404);
  });

  it("compact(threshold) removes the less important; adaptiveCompact runs the default compaction; both as tasks", async () => {
    const low = (await http("POST", "/api/memory", { type: "decision_rationale", content: "minor note", importance: 0.1 })).body.id;
    const keep = (await http("POST", "/api/memory", { type: "decision_rationale", content: "We chose SQLite for the embedded default", importance: 0.9 })).body.id;
    const c = await http("POST", "/api/memory/compact", { threshold: 0.2 });
    expect(c.status).toBe(200);
    expect(c.body.removed).toBeGreaterThanOrEqual(1);
    expect((await http("GET", `/api/memory/${low}`)).status).toBe(404);
    expect((await http("GET", `/api/memory/${keep}`)).status).toBe(200);
    await http("POST", "/api/memory", { type: "decision_rationale", content: "We chose SQLite for the embedded default", importance: 0.4 });
    const adaptive = await http("POST", "/api/memory/compact", {});
    expect(adaptive.body.removed).toBe(1);
    expect(adaptive.body.completed).toBe(true);
    const tasks = await http("GET", "/v1/tasks?queues=memory.compaction&page_size=100");
    expect(tasks.body.tasks.some((t: any) => t.id === adaptive.body.taskId)).toBe(true);
  });

  it("answers bad input with seed 000's error body", async () => {
    expect(await http("POST", "/api/memory/search", {})).toEqual({ status: 400, body: { error: "query is required" } });
    const sem = await http("POST", "/api/memory/semantic", {});
    expect(sem.status).toBe(400);
    expect(sem.body.error).toContain("embedding or query is required");
    expect((await http("POST", "/api/memory", { type: "x" })).status).toBe(400);
  });
});

describe("with SWITCHYARD_API_TOKEN set", () => {
  const TOKEN = "memory-token-0123456789abcdef";
  let secured: TestServer;
  beforeAll(async () => {
    secured = await startTestServer({ SWITCHYARD_API_TOKEN: TOKEN });
  });
  afterAll(() => secured?.close());
  const call = (path: string, body: unknown, token?: string) =>
    fetch(secured.url + path, { method: "POST", headers: { "content-type": "application/json", ...(token ? { authorization: `Bearer ${token}` } : {}) }, body: JSON.stringify(body) });

  it("the legacy memory routes answer 401 in seed 000's body before looking at the input, and serve the right token", async () => {
    const anon = await call("/api/memory", { type: "x" });
    expect(anon.status).toBe(401);
    expect(await anon.json()).toEqual({ error: "Unauthorized" });
    expect((await call("/api/memory/search", {}, "wrong-token-0123456789")).status).toBe(401);
    const ok = await call("/api/memory", { type: "agent_learning", content: "authorized" }, TOKEN);
    expect(ok.status).toBe(201);
    expect((await call("/v1/memories:search", { query: "authorized" })).status).toBe(401);
  });
});
