/** Plain types of the memory domain; the service layer maps them to and from the protos. */

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
export type JsonObject = { [key: string]: Json };

export type EmbeddingState = "missing" | "pending" | "ready";
export const EMBEDDING_STATE_CODES: Record<EmbeddingState, number> = { missing: 1, pending: 2, ready: 3 };
export const EMBEDDING_STATE_NAMES: EmbeddingState[] = ["missing", "missing", "pending", "ready"];

export interface Memory {
  id: string;
  /** Row number shared with the full-text and vector indexes. */
  seq: number;
  tenant: string;
  content: string;
  type: string;
  agentId: string;
  scope: string;
  importance: number;
  metadata: JsonObject | undefined;
  tags: string[];
  source: string;
  embeddingState: EmbeddingState;
  embeddingModel: string | undefined;
  accessCount: number;
  lastAccessAt: number;
  expiresAt: number | undefined;
  sizeBytes: number;
  mergedIds: string[];
  createdAt: number;
  updatedAt: number;
}

/** What a client gives to store a memory. */
export interface NewMemory {
  content: string;
  type: string;
  agentId?: string;
  scope?: string;
  importance?: number;
  metadata?: JsonObject;
  tags?: string[];
  source?: string;
  /** A vector the client computed (must have the index's dimensions). */
  embedding?: number[] | Float32Array;
  embeddingModel?: string;
  ttlMs?: number;
  expiresAt?: number;
  requestId?: string;
}

/** Which memories a search, compaction, statistic or backfill looks at (AND of the set fields). */
export interface MemoryFilter {
  types?: string[];
  agentId?: string;
  scope?: string;
  tags?: string[];
  minImportance?: number;
}

export interface ListFilter {
  pageSize?: number;
  pageToken?: string;
  type?: string;
  agentId?: string;
  scope?: string;
  tag?: string;
  embeddingState?: EmbeddingState;
  createdAfter?: number;
  createdBefore?: number;
}

export type Ranker = "text" | "semantic";

export interface SearchHit {
  memory: Memory;
  score: number;
  snippet: string;
  textScore?: number;
  semanticScore?: number;
  textRank?: number;
  semanticRank?: number;
  rankers: Ranker[];
}

/** The embedder and index in use. */
export interface ModelInfo {
  model: string;
  dimensions: number | undefined;
  provider: string;
  metric: "cosine";
  vectorIndex: string;
}

export interface MemoryStats {
  total: number;
  byType: Record<string, number>;
  byAgent: Record<string, number>;
  byScope: Record<string, number>;
  byModel: Record<string, number>;
  withEmbedding: number;
  withoutEmbedding: number;
  pending: number;
  expired: number;
  contentBytes: number;
  embeddingBytes: number;
  oldest: number | undefined;
  newest: number | undefined;
  averageImportance: number;
  totalAccesses: number;
  model: ModelInfo;
}
