/** One memory's vector as an index stores it: the memory's row number, and what searches filter on. */
export interface VectorItem {
  /** The memory's `seq` (unique in the database; Qdrant's point id). */
  seq: number;
  vector: Float32Array;
  type: string;
  agentId: string;
  scope: string;
}

/** Filters an index applies while searching (the domain re-checks everything on the rows). */
export interface VectorFilter {
  type?: string;
  agentId?: string;
  scope?: string;
}

export interface VectorHit {
  seq: number;
  /** Cosine similarity, -1 to 1. */
  score: number;
}

/**
 * Holds vectors per tenant and model and finds nearest neighbours by cosine similarity.
 * Implementations: sqlite-vec in the same SQLite file (transactional: writes join the
 * caller's group-commit transaction), Qdrant (writes after the rows commit), and `none`
 * (no engine: searches and writes answer failed_precondition naming the missing engine).
 */
export interface VectorIndex {
  /** `none`: no vector engine is configured (PostgreSQL without QDRANT_URL). */
  readonly kind: "sqlite-vec" | "qdrant" | "none";
  /** Whether writes must run inside the caller's SQLite transaction (synchronously). */
  readonly transactional: boolean;
  /** Creates the collection of a model (idempotent); a second dimension for one model is refused. */
  ensure(model: string, dimensions: number): Promise<void>;
  /** Inserts or replaces vectors. sqlite-vec: call inside a committer operation. */
  upsert(tenant: string, model: string, items: VectorItem[]): void | Promise<void>;
  /** Removes vectors of a model (missing ones are ignored). sqlite-vec: inside a committer operation. */
  remove(tenant: string, model: string, seqs: number[]): void | Promise<void>;
  /** Removes the vectors of these memories under every model. sqlite-vec: inside a committer operation. */
  removeEverywhere(tenant: string, seqs: number[]): void | Promise<void>;
  /** The k most similar vectors of one tenant and model, best first. */
  search(tenant: string, model: string, vector: Float32Array, k: number, filter?: VectorFilter): Promise<VectorHit[]>;
  /** The stored vector of one memory, if any. */
  get(tenant: string, model: string, seq: number): Promise<Float32Array | undefined>;
  close(): Promise<void>;
}
