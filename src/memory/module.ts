import { MemoryService } from "../../gen/switchyard/memory/v1/memory_service_pb.js";
import type { Config } from "../config.ts";
import type { Embedder } from "../embeddings/embedder.ts";
import { createLexicalEmbedder } from "../embeddings/lexical.ts";
import { createOpenAiEmbedder } from "../embeddings/openai.ts";
import { jetpackMemoryFamily } from "../server/legacy/jetpack/memory.ts";
import type { DomainModule, ModuleContext } from "../server/module.ts";
import type { ServiceRegistration } from "../server/rpc.ts";
import type { TaskEngine } from "../tasks/engine.ts";
import type { Task } from "../tasks/types.ts";
import { createNoVectorIndex } from "../vectors/none.ts";
import { createSqliteVecIndex } from "../vectors/sqlite-vec.ts";
import type { VectorIndex } from "../vectors/vector-index.ts";
import { createMemory, type MemoryDomain } from "./memory.ts";
import { memoryService } from "./service.ts";
import type { HeldTask, MemoryTask, MemoryTaskPort } from "./task-port.ts";

export interface MemoryModule extends DomainModule {
  memory: MemoryDomain;
}

const view = (t: Task): MemoryTask => ({
  tenant: t.tenant,
  id: t.id,
  queue: t.queue,
  type: t.type,
  state: t.state,
  payload: t.payload as MemoryTask["payload"],
  result: t.result as MemoryTask["result"],
  error: t.error?.message,
  progress: t.progress,
  attempt: t.attempt,
  maxAttempts: t.maxAttempts,
});

/**
 * The task engine behind the memory domain's port. The tenant lives in the task payload
 * (`payload.tenant`) until the engine takes a tenant itself: this is the one place to adapt.
 */
export function engineTaskPort(engine: TaskEngine, options: { rediscoverMs?: number } = {}): MemoryTaskPort {
  // Each memory task lives in its memories' tenant (that tenant lists, watches and cancels it);
  // the in-process worker claims from every tenant that has such work. Those tenants are read
  // from the tasks table at start (work left from before a restart), learnt as this instance
  // creates tasks, and read again every `rediscoverMs` (10 s): with several instances on one
  // database another instance creates tasks too, and its work must not wait for it alone (nor
  // be stranded when it stops). A poll costs one indexed claim per known tenant, and one scan of
  // the pending tasks every 10 s, not four times a second.
  const rediscoverMs = options.rediscoverMs ?? 10_000;
  let tenants: Set<string> | undefined;
  let discoveredAt = 0;
  return {
    async create(tenant, t) {
      tenants?.add(tenant);
      const { task } = await engine
        .scoped(tenant)
        .createTask({ queue: t.queue, type: t.type, payload: t.payload, title: t.title, maxAttempts: t.maxAttempts, timeoutMs: t.timeoutMs, tags: t.tags });
      return view(task);
    },
    async get(tenant, id) {
      try {
        return view(await engine.scoped(tenant).getTask(id));
      } catch (error) {
        // Only a missing task is "none": a database that did not answer must not read as one
        // (the compaction slot would be taken from a task that still runs).
        if ((error as { reason?: string }).reason === "TASK_NOT_FOUND") return undefined;
        throw error;
      }
    },
    async active(tenant, queue) {
      return (await engine.scoped(tenant).listTasks({ queues: [queue], states: ["pending", "blocked", "running"], pageSize: 1000 })).items.map(view);
    },
    async claim(queues, workerId, max, leaseMs) {
      if (!tenants || Date.now() - discoveredAt >= rediscoverMs) {
        const found = await engine.tenantsWithWork(queues);
        discoveredAt = Date.now();
        tenants ??= new Set();
        for (const t of found) tenants.add(t);
      }
      const out: HeldTask[] = [];
      for (const tenant of tenants) {
        if (out.length >= max) break;
        const got = await engine.scoped(tenant).claimTasks({ workerId, queues, maxTasks: max - out.length, leaseMs });
        for (const a of got) out.push({ task: view(a.task), fencingToken: a.lease.fencingToken });
      }
      return out;
    },
    async progress(held, percent, message) {
      const r = await engine
        .scoped(held.task.tenant)
        .heartbeat({ id: held.task.id, fencingToken: held.fencingToken, progress: Math.max(0, Math.min(100, Math.round(percent))), progressMessage: message });
      return { cancelled: r.cancelRequested };
    },
    async cancel(tenant, id, reason) {
      await engine.scoped(tenant).cancelTask({ id, reason });
    },
    async complete(held, result) {
      await engine.scoped(held.task.tenant).completeTask({ id: held.task.id, fencingToken: held.fencingToken, result });
    },
    async fail(held, message, retryable, reason) {
      await engine.scoped(held.task.tenant).failTask({ id: held.task.id, fencingToken: held.fencingToken, error: { message, retryable, reason } });
    },
  };
}

/** The embedder the configuration names: an OpenAI-compatible endpoint, else the built-in lexical one. */
export function embedderFrom(config: Config): Embedder {
  if (!config.embeddingsUrl) return createLexicalEmbedder();
  return createOpenAiEmbedder({
    url: config.embeddingsUrl,
    model: config.embeddingsModel,
    apiKey: config.embeddingsApiKey,
    batchSize: config.embeddingsBatchSize,
    timeoutMs: config.embeddingsTimeoutMs,
    dimensions: config.embeddingsDimensions || undefined,
  });
}

/**
 * The vector index the configuration names: Qdrant when QDRANT_URL is set, else sqlite-vec in
 * the same file on SQLite, and none on PostgreSQL (semantic search answers failed_precondition
 * naming Qdrant; pgvector is not installable on the target machines: see src/vectors/README.md).
 * The Qdrant client is loaded only when it is used.
 */
export async function vectorIndexFrom(config: Config, ctx: ModuleContext): Promise<VectorIndex> {
  if (config.qdrantUrl) return (await import("../vectors/qdrant.ts")).createQdrantIndex({ url: config.qdrantUrl, apiKey: config.qdrantApiKey });
  if (ctx.database.dialect === "postgres") return createNoVectorIndex();
  const { committer } = ctx.database;
  return createSqliteVecIndex(ctx.database.sqlite, { quantization: config.vectorQuantization, write: (work) => committer.run(work) });
}

/** The memory domain as served: MemoryService, seed 000's `/api/memory…` routes, the in-process memory worker. */
export async function createMemoryModule(ctx: ModuleContext, engine: TaskEngine): Promise<MemoryModule> {
  const embedderWatch = watchEngine();
  const vectorsWatch = watchEngine();
  const embedder = watchedEmbedder(embedderFrom(ctx.config), embedderWatch);
  const vectors = watchedVectors(await vectorIndexFrom(ctx.config, ctx), vectorsWatch);
  // Each engine behind the memory domain is a health component: degraded while its last call failed.
  ctx.health.add({ name: "embeddings", required: false, check: () => embedderWatch.state(`${embedder.provider} ${embedder.model}`) });
  const vectorsWhat = vectors.kind === "none" ? "none: semantic search needs a vector engine (set QDRANT_URL)" : vectors.kind;
  ctx.health.add({ name: "vectors", required: false, check: () => vectorsWatch.state(vectorsWhat) });
  if (vectors.kind === "none") ctx.log.warn("memory: no vector engine on PostgreSQL (QDRANT_URL is unset): semantic search answers failed_precondition; full text works");
  const memory = createMemory({ database: ctx.database, clock: ctx.clock, log: ctx.log, embedder, vectors, tasks: engineTaskPort(engine), workerLeaseMs: ctx.config.memoryWorkerLeaseMs });
  // Prepare the model's collection now when its dimension is known (an endpoint not yet reachable is probed later).
  // An engine that is not reachable yet (Qdrant starting after us) must not stop the server:
  // the collection is prepared again on first use, and calls that need it answer unavailable.
  if (embedder.dimensions() !== undefined) {
    await memory.ctx.dimensions().catch((error) => ctx.log.warn("memory: vector index not ready; prepared again on first use", { vectors: vectors.kind, error: String(error) }));
  }
  ctx.log.info("memory: embedder and vector index", { model: embedder.model, provider: embedder.provider, vectors: vectors.kind });
  return {
    name: "memory",
    dialects: ["sqlite", "postgres"],
    memory,
    services: [{ service: MemoryService, impl: memoryService(memory) } as ServiceRegistration],
    legacy: [jetpackMemoryFamily()],
    start: () => memory.start(),
    close: async () => {
      await memory.stop();
      await vectors.close();
    },
  };
}

/** The outcome of an engine's last call, for health: degraded while the last one failed. */
function watchEngine() {
  let failure: { at: number; message: string } | undefined;
  return {
    ok: () => (failure = undefined),
    failed: (error: unknown) => (failure = { at: Date.now(), message: error instanceof Error ? error.message : String(error) }),
    state: (what: string) =>
      failure
        ? { status: "degraded", message: `${what}: last call failed at ${new Date(failure.at).toISOString()}: ${failure.message}` }
        : { status: "operational", message: what },
  };
}

async function observe<T>(watch: ReturnType<typeof watchEngine>, call: () => Promise<T>): Promise<T> {
  try {
    const out = await call();
    watch.ok();
    return out;
  } catch (error) {
    watch.failed(error);
    throw error;
  }
}

function watchedEmbedder(inner: Embedder, watch: ReturnType<typeof watchEngine>): Embedder {
  return {
    model: inner.model,
    provider: inner.provider,
    dimensions: () => inner.dimensions(),
    embed: (texts, signal) => observe(watch, () => inner.embed(texts, signal)),
  };
}

function watchedVectors(inner: VectorIndex, watch: ReturnType<typeof watchEngine>): VectorIndex {
  // sqlite-vec runs inside the caller's transaction (synchronously): only Qdrant's calls are remote.
  // Without an engine every refusal is by design, not a fault of an engine.
  if (inner.transactional || inner.kind === "none") return inner;
  return {
    kind: inner.kind,
    transactional: inner.transactional,
    ensure: (m, d) => observe(watch, () => inner.ensure(m, d)),
    upsert: (t, m, items) => observe(watch, async () => inner.upsert(t, m, items)),
    remove: (t, m, seqs) => observe(watch, async () => inner.remove(t, m, seqs)),
    removeEverywhere: (t, seqs) => observe(watch, async () => inner.removeEverywhere(t, seqs)),
    search: (t, m, v, k, f) => observe(watch, () => inner.search(t, m, v, k, f)),
    get: (t, m, seq) => observe(watch, () => inner.get(t, m, seq)),
    close: () => inner.close(),
  };
}
