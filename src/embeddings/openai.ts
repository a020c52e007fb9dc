import { EmbedderError, normalize, type Embedder } from "./embedder.ts";

export interface OpenAiEmbedderOptions {
  /** Base URL of the API (`http://host:11434/v1`); requests go to `<url>/embeddings`. A URL already ending in `/embeddings` is used as is. */
  url: string;
  model: string;
  apiKey?: string;
  /** Texts per request; larger inputs are split. */
  batchSize: number;
  /** Per request, in milliseconds. */
  timeoutMs: number;
  /** Known vector length; otherwise learnt from the first answer. */
  dimensions?: number;
  fetch?: typeof fetch;
}

/**
 * An OpenAI-compatible `/v1/embeddings` endpoint (OpenAI, Ollama, vLLM,
 * text-embeddings-inference…): `{ model, input: [texts] }` → `{ data: [{ index, embedding }] }`.
 */
export function createOpenAiEmbedder(options: OpenAiEmbedderOptions): Embedder {
  const endpoint = /\/embeddings\/?$/.test(options.url) ? options.url : options.url.replace(/\/+$/, "") + "/embeddings";
  const doFetch = options.fetch ?? fetch;
  let dims = options.dimensions;

  async function request(texts: string[], signal?: AbortSignal): Promise<Float32Array[]> {
    const timeout = AbortSignal.timeout(options.timeoutMs);
    const both = signal ? AbortSignal.any([signal, timeout]) : timeout;
    let response: Response;
    try {
      response = await doFetch(endpoint, {
        method: "POST",
        headers: { "content-type": "application/json", ...(options.apiKey ? { authorization: `Bearer ${options.apiKey}` } : {}) },
        body: JSON.stringify({ model: options.model, input: texts, encoding_format: "float" }),
        signal: both,
      });
    } catch (error) {
      const why = timeout.aborted ? `no answer within ${options.timeoutMs} ms` : (error as Error).message;
      throw new EmbedderError(`embeddings endpoint ${endpoint}: ${why}`, error);
    }
    if (!response.ok) {
      const text = (await response.text().catch(() => "")).slice(0, 300);
      throw new EmbedderError(`embeddings endpoint ${endpoint} answered HTTP ${response.status}${text ? `: ${text}` : ""}`);
    }
    let body: { data?: { index?: number; embedding?: unknown }[] };
    try {
      body = (await response.json()) as typeof body;
    } catch (error) {
      throw new EmbedderError(`embeddings endpoint ${endpoint} answered something that is not JSON`, error);
    }
    const data = body.data;
    if (!Array.isArray(data) || data.length !== texts.length) {
      throw new EmbedderError(`embeddings endpoint ${endpoint} answered ${Array.isArray(data) ? data.length : "no"} vectors for ${texts.length} texts`);
    }
    const out: Float32Array[] = new Array(texts.length);
    for (const [i, item] of data.entries()) {
      const at = typeof item.index === "number" ? item.index : i;
      const e = item.embedding;
      if (!Array.isArray(e) || e.length === 0 || !e.every((x) => typeof x === "number" && Number.isFinite(x))) {
        throw new EmbedderError(`embeddings endpoint ${endpoint} answered a malformed vector`);
      }
      if (dims === undefined) dims = e.length;
      if (e.length !== dims) throw new EmbedderError(`embeddings endpoint ${endpoint} answered ${e.length} dimensions, expected ${dims}`);
      out[at] = normalize(Float32Array.from(e as number[]));
    }
    return out;
  }

  return {
    model: options.model,
    provider: "openai-compatible",
    dimensions: () => dims,
    async embed(texts, signal) {
      const out: Float32Array[] = [];
      for (let i = 0; i < texts.length; i += options.batchSize) out.push(...(await request(texts.slice(i, i + options.batchSize), signal)));
      return out;
    },
  };
}
