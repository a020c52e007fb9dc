import { normalize, type Embedder } from "./embedder.ts";

export const LEXICAL_MODEL = "builtin-lexical-v1";
export const LEXICAL_DIMENSIONS = 384;

/** Lower-cased words of letters and digits (Unicode), as the lexical embedder sees them. */
export function words(text: string): string[] {
  return text.toLowerCase().normalize("NFKD").replace(/\p{M}/gu, "").match(/[\p{L}\p{N}]+/gu) ?? [];
}

function hash(s: string, seed: number): number {
  // FNV-1a, 32 bits.
  let h = 0x811c9dc5 ^ seed;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/**
 * The built-in embedder: deterministic feature hashing of words and word pairs into a fixed
 * number of dimensions (signed, log-scaled counts, unit length). It is LEXICAL: texts that
 * share words are close, paraphrases with other words are not. Semantic search by meaning
 * wants an OpenAI-compatible endpoint (SWITCHYARD_EMBEDDINGS_URL).
 */
export function createLexicalEmbedder(dimensions = LEXICAL_DIMENSIONS): Embedder {
  const one = (text: string): Float32Array => {
    const v = new Float32Array(dimensions);
    const ws = words(text);
    const counts = new Map<string, number>();
    for (let i = 0; i < ws.length; i++) {
      counts.set(ws[i]!, (counts.get(ws[i]!) ?? 0) + 1);
      if (i + 1 < ws.length) {
        const pair = `${ws[i]} ${ws[i + 1]}`;
        counts.set(pair, (counts.get(pair) ?? 0) + 0.5);
      }
    }
    for (const [feature, n] of counts) {
      const h = hash(feature, 0);
      v[h % dimensions]! += (hash(feature, 1) & 1 ? 1 : -1) * (1 + Math.log(n));
    }
    return normalize(v);
  };
  return {
    model: LEXICAL_MODEL,
    provider: "builtin",
    dimensions: () => dimensions,
    embed: async (texts) => texts.map(one),
  };
}
