import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import type { VectorIndex } from "./vector-index.ts";

// 8 dimensions (1-bit quantization packs 8 per byte); the last four stay 0.
const unit = (xs: number[]) => {
  xs = [...xs, ...Array(8 - xs.length).fill(0)];
  const n = Math.hypot(...xs);
  return Float32Array.from(xs.map((x) => x / n));
};

/** The contract every VectorIndex keeps; run against each implementation available. */
export function describeVectorIndex(name: string, make: () => Promise<{ index: VectorIndex; inTransaction: (fn: () => void) => Promise<void>; close(): Promise<void> }>): void {
  describe(`VectorIndex contract: ${name}`, () => {
    let h: Awaited<ReturnType<typeof make>>;
    const write = async (fn: () => void | Promise<void>) => {
      if (h.index.transactional) await h.inTransaction(() => void fn());
      else await fn();
    };
    beforeAll(async () => {
      h = await make();
      await h.index.ensure("m1", 8);
      await h.index.ensure("m2", 8);
      await write(() =>
        h.index.upsert("t1", "m1", [
          { seq: 1, vector: unit([1, 0, 0, 0]), type: "a", agentId: "x", scope: "" },
          { seq: 2, vector: unit([0.9, 0.1, 0, 0]), type: "b", agentId: "x", scope: "" },
          { seq: 3, vector: unit([0, 1, 0, 0]), type: "a", agentId: "y", scope: "s" },
        ]),
      );
      await write(() => h.index.upsert("t2", "m1", [{ seq: 4, vector: unit([1, 0, 0, 0]), type: "a", agentId: "x", scope: "" }]));
      await write(() => h.index.upsert("t1", "m2", [{ seq: 5, vector: unit([1, 0, 0, 0]), type: "a", agentId: "x", scope: "" }]));
    });
    afterAll(() => h.close());

    it("finds the nearest vectors of one tenant and model, best first, with cosine scores", async () => {
      const hits = await h.index.search("t1", "m1", unit([1, 0, 0, 0]), 3);
      expect(hits.map((x) => x.seq)).toEqual([1, 2, 3]);
      expect(hits[0]!.score).toBeCloseTo(1, 4);
      expect(hits[2]!.score).toBeCloseTo(0, 4);
    });
    it("never returns another tenant's or another model's vectors", async () => {
      expect((await h.index.search("t2", "m1", unit([1, 0, 0, 0]), 10)).map((x) => x.seq)).toEqual([4]);
      expect((await h.index.search("t1", "m2", unit([1, 0, 0, 0]), 10)).map((x) => x.seq)).toEqual([5]);
      expect(await h.index.search("t3", "m1", unit([1, 0, 0, 0]), 10)).toEqual([]);
    });
    it("filters by type, agent and scope", async () => {
      expect((await h.index.search("t1", "m1", unit([1, 0, 0, 0]), 10, { type: "a" })).map((x) => x.seq)).toEqual([1, 3]);
      expect((await h.index.search("t1", "m1", unit([1, 0, 0, 0]), 10, { agentId: "y" })).map((x) => x.seq)).toEqual([3]);
      expect((await h.index.search("t1", "m1", unit([1, 0, 0, 0]), 10, { scope: "s" })).map((x) => x.seq)).toEqual([3]);
    });
    it("replaces a vector on upsert and returns the stored vector", async () => {
      await write(() => h.index.upsert("t1", "m1", [{ seq: 3, vector: unit([1, 0.05, 0, 0]), type: "a", agentId: "y", scope: "s" }]));
      expect((await h.index.search("t1", "m1", unit([1, 0, 0, 0]), 1))[0]!.seq).toBe(1);
      const v = await h.index.get("t1", "m1", 3);
      expect(v![0]).toBeCloseTo(unit([1, 0.05, 0, 0])[0]!, 5);
      expect(await h.index.get("t2", "m1", 3)).toBeUndefined();
    });
    it("never returns a removed vector", async () => {
      await write(() => h.index.remove("t1", "m1", [1]));
      await write(() => h.index.removeEverywhere("t1", [5]));
      expect((await h.index.search("t1", "m1", unit([1, 0, 0, 0]), 10)).map((x) => x.seq)).not.toContain(1);
      expect(await h.index.search("t1", "m2", unit([1, 0, 0, 0]), 10)).toEqual([]);
    });
    it("refuses a second dimension for a model and vectors of the wrong length", async () => {
      await expect(h.index.ensure("m1", 16)).rejects.toThrow(/8-dimension/);
      await expect(h.index.search("t1", "m1", Float32Array.from([1, 0, 0]), 1)).rejects.toThrow(/3 dimensions/);
    });
  });
}
