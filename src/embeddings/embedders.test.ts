import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import { startEmbedServer, type EmbedServer } from "../testing/embed-server.ts";
import { EmbedderError } from "./embedder.ts";
import { createLexicalEmbedder, LEXICAL_MODEL } from "./lexical.ts";
import { createOpenAiEmbedder } from "./openai.ts";

const cos = (a: Float32Array, b: Float32Array) => a.reduce((s, x, i) => s + x * b[i]!, 0);

describe("the built-in lexical embedder", () => {
  const e = createLexicalEmbedder();
  it("is named lexical and makes deterministic unit vectors of 384 dimensions", async () => {
    expect(e.model).toBe(LEXICAL_MODEL);
    const [a, b] = await e.embed(["Fix the parser bug", "fix the PARSER bug"]);
    expect(a!.length).toBe(384);
    expect(cos(a!, a!)).toBeCloseTo(1, 5);
    expect(cos(a!, b!)).toBeCloseTo(1, 5);
  });
  it("brings texts sharing words closer than texts sharing none", async () => {
    const [a, b, c] = await e.embed(["the parser fails on nested lists", "nested lists break the parser", "bake bread with yeast"]);
    expect(cos(a!, b!)).toBeGreaterThan(cos(a!, c!) + 0.2);
  });
});

describe("the OpenAI-compatible embedder against all-MiniLM-L6-v2 (Python test server)", () => {
  let server: EmbedServer;
  beforeAll(async () => {
    server = await startEmbedServer();
  }, 120_000);
  afterAll(() => server?.close());
  const embedder = () => createOpenAiEmbedder({ url: server.url, model: "all-MiniLM-L6-v2", batchSize: 2, timeoutMs: 5000 });

  it("embeds by meaning: a paraphrase is close, an unrelated text is not", async () => {
    const e = embedder();
    const [car, engine, bread] = await e.embed(["the car would not start", "my automobile's engine failed", "a recipe for bread"]);
    expect(e.dimensions()).toBe(384);
    expect(cos(car!, engine!)).toBeGreaterThan(0.4);
    expect(cos(car!, bread!)).toBeLessThan(0.2);
  });
  it("reproduces sentence-transformers' published similarity for all-MiniLM-L6-v2", async () => {
    const [a, b] = await embedder().embed(["A man is eating food.", "A man is eating a piece of bread."]);
    expect(cos(a!, b!)).toBeCloseTo(0.7553, 3);
  });
  it("says why when the endpoint is down or slow", async () => {
    await server.control({ fail: true });
    try {
      await expect(embedder().embed(["x"])).rejects.toThrow(/HTTP 503/);
    } finally {
      await server.control({ fail: false });
    }
    await server.control({ delay_ms: 800 });
    try {
      const slow = createOpenAiEmbedder({ url: server.url, model: "m", batchSize: 8, timeoutMs: 200 });
      const err = await slow.embed(["x"]).catch((e) => e);
      expect(err).toBeInstanceOf(EmbedderError);
      expect(String(err.message)).toContain("no answer within 200 ms");
    } finally {
      await server.control({ delay_ms: 0 });
    }
    const down = createOpenAiEmbedder({ url: "http://127.0.0.1:9/v1", model: "m", batchSize: 8, timeoutMs: 1000 });
    await expect(down.embed(["x"])).rejects.toBeInstanceOf(EmbedderError);
  });
});
