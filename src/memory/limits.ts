import { AppError, invalidArgument } from "../core/errors.ts";
import type { JsonObject, MemoryFilter } from "./types.ts";

/** Explicit limits of the memory domain, each refused with invalid_argument naming the field. */
export const LIMITS = {
  contentBytes: 64 * 1024,
  metadataBytes: 16 * 1024,
  tags: 32,
  tagLength: 64,
  typeLength: 64,
  agentIdLength: 128,
  scopeLength: 256,
  sourceLength: 256,
  requestIdLength: 128,
  batchCreate: 100,
  setEmbeddings: 1000,
  searchLimit: 100,
  queryLength: 1024,
  backfillBatch: 1000,
  pageSize: 1000,
} as const;

const TYPE_RE = /^[a-z0-9_.-]{1,64}$/;

export function checkType(type: string, field: string): string {
  if (!TYPE_RE.test(type)) throw invalidArgument(field, "must be 1-64 characters of a-z, 0-9, _ . -");
  return type;
}

export function checkLength(value: string, max: number, field: string): string {
  if (value.length > max) throw invalidArgument(field, `must be at most ${max} characters`);
  return value;
}

export function checkImportance(v: number, field: string): number {
  if (!Number.isFinite(v) || v < 0 || v > 1) throw invalidArgument(field, "must be between 0 and 1");
  return v;
}

export function checkTags(tags: string[], field: string): string[] {
  const out = [...new Set(tags)];
  if (out.length > LIMITS.tags) throw invalidArgument(field, `at most ${LIMITS.tags} tags`);
  for (const [i, t] of out.entries()) {
    if (t.length < 1 || t.length > LIMITS.tagLength) throw invalidArgument(`${field}[${i}]`, `must be 1-${LIMITS.tagLength} characters`);
  }
  return out;
}

export function checkMetadata(m: JsonObject | undefined, field: string): string | null {
  if (m === undefined) return null;
  if (typeof m !== "object" || m === null || Array.isArray(m)) throw invalidArgument(field, "must be a JSON object");
  const json = JSON.stringify(m);
  if (Buffer.byteLength(json) > LIMITS.metadataBytes) throw invalidArgument(field, `must be at most ${LIMITS.metadataBytes} bytes of JSON`);
  return json;
}

export function checkLimit(n: number | undefined, field: string, fallback = 10, max: number = LIMITS.searchLimit): number {
  if (n === undefined || n === 0) return fallback;
  if (!Number.isInteger(n) || n < 0 || n > max) throw invalidArgument(field, `must be between 1 and ${max}`);
  return n;
}

export function checkFilter(f: MemoryFilter | undefined, field = "filter"): MemoryFilter {
  if (!f) return {};
  for (const [i, t] of (f.types ?? []).entries()) checkType(t, `${field}.types[${i}]`);
  if (f.tags) checkTags(f.tags, `${field}.tags`);
  if (f.minImportance !== undefined) checkImportance(f.minImportance, `${field}.min_importance`);
  return f;
}

/** A vector whose length differs from the index's: invalid_argument naming the field and both dimensions. */
export function dimensionMismatch(field: string, got: number, want: number): AppError {
  return new AppError("invalid_argument", "EMBEDDING_DIMENSION_MISMATCH", `${field}: has ${got} dimensions, the index has ${want}`, {
    field,
    dimensions: String(got),
    expected_dimensions: String(want),
  });
}

export function checkVector(v: ArrayLike<number>, want: number | undefined, field: string): Float32Array {
  if (v.length === 0) throw invalidArgument(field, "must not be empty");
  if (want === undefined) {
    throw new AppError("unavailable", "EMBEDDER_UNAVAILABLE", `${field}: the index's dimensions are not known yet (the embeddings endpoint has not answered; SWITCHYARD_EMBEDDINGS_DIMENSIONS sets them)`, { field });
  }
  if (want !== undefined && v.length !== want) throw dimensionMismatch(field, v.length, want);
  const out = Float32Array.from(v as ArrayLike<number>);
  for (let i = 0; i < out.length; i++) if (!Number.isFinite(out[i]!)) throw invalidArgument(`${field}[${i}]`, "must be a finite number");
  return out;
}
