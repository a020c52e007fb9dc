import { index, integer, real, sqliteTable, text, uniqueIndex } from "drizzle-orm/sqlite-core";
import { sql } from "drizzle-orm";

/**
 * Agents' memories, one row each. `seq` is the rowid shared with the full-text index
 * (`memory_fts`, an FTS5 table over `content`, kept by triggers: see the custom migration)
 * and with the vector index (sqlite-vec `vec0` tables, one per embedding model, created at
 * startup because their dimension comes from the model).
 */
export const memories = sqliteTable(
  "memories",
  {
    seq: integer("seq").primaryKey({ autoIncrement: true }),
    id: text("id").notNull(),
    tenant: text("tenant").notNull(),
    content: text("content").notNull(),
    type: text("type").notNull(),
    agentId: text("agent_id").notNull().default(""),
    scope: text("scope").notNull().default(""),
    importance: real("importance").notNull(),
    /** JSON object, or NULL. */
    metadata: text("metadata"),
    /** JSON array of strings. */
    tags: text("tags").notNull().default("[]"),
    source: text("source").notNull().default(""),
    /** 1 missing, 2 pending (a backfill task holds it), 3 ready. */
    embeddingState: integer("embedding_state").notNull(),
    /** Model whose index holds the vector; NULL without one. */
    embeddingModel: text("embedding_model"),
    /** Backfill job holding the memory while PENDING. */
    backfillJob: text("backfill_job"),
    accessCount: integer("access_count").notNull().default(0),
    lastAccessAt: integer("last_access_at").notNull(),
    /** Server clock ms; NULL never expires. */
    expiresAt: integer("expires_at"),
    sizeBytes: integer("size_bytes").notNull(),
    /** Hash of the content folded for case and whitespace (exact-duplicate merging). */
    contentKey: text("content_key").notNull(),
    /** JSON array of merged memory ids. */
    mergedIds: text("merged_ids").notNull().default("[]"),
    requestId: text("request_id"),
    createdAt: integer("created_at").notNull(),
    updatedAt: integer("updated_at").notNull(),
  },
  (t) => [
    uniqueIndex("memories_id").on(t.id),
    uniqueIndex("memories_request").on(t.tenant, t.requestId).where(sql`${t.requestId} IS NOT NULL`),
    index("memories_tenant_seq").on(t.tenant, t.seq),
    index("memories_tenant_type").on(t.tenant, t.type, t.seq),
    index("memories_tenant_scope").on(t.tenant, t.scope, t.seq),
    index("memories_tenant_state").on(t.tenant, t.embeddingState, t.seq),
    index("memories_tenant_expires").on(t.tenant, t.expiresAt),
    index("memories_group").on(t.tenant, t.type, t.agentId, t.scope, t.contentKey),
  ],
);

/** Answers of idempotent calls that are not one memory (backfill jobs), by request id. */
export const memoryRequests = sqliteTable(
  "memory_requests",
  {
    tenant: text("tenant").notNull(),
    kind: text("kind").notNull(),
    requestId: text("request_id").notNull(),
    answer: text("answer").notNull(),
    createdAt: integer("created_at").notNull(),
  },
  (t) => [uniqueIndex("memory_requests_key").on(t.tenant, t.kind, t.requestId)],
);

/**
 * The tenant's one compaction at a time: the task holding the slot. A new compaction takes it
 * by compare-and-swap (free, or held by a task that ended), so two instances starting one at
 * once cannot both run.
 */
export const memoryCompactionSlots = sqliteTable("memory_compaction_slots", {
  tenant: text("tenant").primaryKey(),
  taskId: text("task_id").notNull(),
  updatedAt: integer("updated_at").notNull(),
});
