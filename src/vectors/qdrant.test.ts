import { describe, it } from "bun:test";
import { createQdrantIndex } from "./qdrant.ts";
import { describeVectorIndex } from "./vector-index.contract.ts";

const url = process.env.QDRANT_URL;
if (url) {
  describeVectorIndex(`qdrant (${url})`, async () => {
    const index = createQdrantIndex({ url, apiKey: process.env.QDRANT_API_KEY, prefix: `switchyard_test_${Date.now()}_` });
    return { index, inTransaction: async (fn) => fn(), close: () => index.close() };
  });
} else {
  describe("VectorIndex contract: qdrant", () => {
    it.skip("skipped: QDRANT_URL is not set (no Qdrant server on this machine); set QDRANT_URL (and QDRANT_API_KEY) to run the contract against Qdrant", () => {});
  });
  console.log("qdrant contract suite skipped: QDRANT_URL is not set");
}
