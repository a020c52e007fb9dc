import { AppError } from "../core/errors.ts";
import type { VectorIndex } from "./vector-index.ts";

const NO_ENGINE = "on PostgreSQL the vector engine is Qdrant; set QDRANT_URL";

/** The answer of every call that needs vectors while no vector engine is configured. */
export function vectorEngineMissing(why = NO_ENGINE): AppError {
  return new AppError("failed_precondition", "VECTOR_ENGINE_MISSING", `semantic search needs a vector engine: ${why}`, { engine: "qdrant", variable: "QDRANT_URL" });
}

/**
 * No vector engine (PostgreSQL without QDRANT_URL: sqlite-vec lives in a SQLite file, and
 * pgvector is not installed here). Removing vectors is a no-op (there are none); searching or
 * writing vectors answers `failed_precondition` (VECTOR_ENGINE_MISSING) naming the engine and
 * its variable. Everything without vectors (full text, lists, compaction by exact duplicates)
 * keeps working.
 */
export function createNoVectorIndex(why = NO_ENGINE): VectorIndex {
  const refuse = () => Promise.reject(vectorEngineMissing(why));
  return {
    kind: "none",
    transactional: false,
    ensure: async () => {},
    upsert: refuse,
    remove: async () => {},
    removeEverywhere: async () => {},
    search: refuse,
    get: async () => undefined,
    close: async () => {},
  };
}
