/** Turns texts into vectors of one model. */
export interface Embedder {
  /** Model name recorded with every vector it makes (vectors of two models never mix). */
  readonly model: string;
  /** `builtin` (in-process) or `openai-compatible` (a `/v1/embeddings` endpoint). */
  readonly provider: "builtin" | "openai-compatible";
  /** Vector length; undefined until an endpoint that was not told its dimensions first answers. */
  dimensions(): number | undefined;
  /** One unit-length vector per text, in order. Throws EmbedderError when it cannot. */
  embed(texts: string[], signal?: AbortSignal): Promise<Float32Array[]>;
}

/** The embedder could not embed: down, slow, or answered something unusable. */
export class EmbedderError extends Error {
  constructor(message: string, override readonly cause?: unknown) {
    super(message);
    this.name = "EmbedderError";
  }
}

/** Scales a vector to unit length in place (cosine then equals the dot product). */
export function normalize(v: Float32Array): Float32Array {
  let sum = 0;
  for (let i = 0; i < v.length; i++) sum += v[i]! * v[i]!;
  const n = Math.sqrt(sum);
  if (n > 0) for (let i = 0; i < v.length; i++) v[i]! /= n;
  return v;
}
