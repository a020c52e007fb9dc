import { afterAll, beforeAll, expect, it } from "bun:test";
import fc from "fast-check";
import { describeDialects } from "../testing/dialects.ts";
import { openMemoryOn } from "./testing.ts";

const WORDS = ["alpha", "beta", "gamma", "delta", "parser", "cache", "deploy", "bread"];
let run = 0;

describeDialects("properties", (open) => {
  let t: Awaited<ReturnType<typeof openMemoryOn>>;
  beforeAll(async () => {
    t = await openMemoryOn(await open());
  }, 60_000);
  afterAll(() => t?.close());

  it("no search (full-text, semantic, hybrid) ever returns a deleted or expired memory", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          fc.record({
            words: fc.array(fc.constantFrom(...WORDS), { minLength: 1, maxLength: 4 }),
            fate: fc.constantFrom("keep", "delete", "expire"),
          }),
          { minLength: 1, maxLength: 12 },
        ),
        fc.constantFrom(...WORDS),
        async (specs, q) => {
          const tenant = `prop-${run++}`;
          const gone = new Set<string>();
          const out = await t.memory.memories.create(
            tenant,
            specs.map((s) => ({ type: "prop", content: s.words.join(" "), ttlMs: s.fate === "expire" ? 1000 : undefined })),
            () => "memory.",
          );
          for (const [i, m] of out.memories.entries()) {
            if (specs[i]!.fate === "delete") (await t.memory.memories.delete(tenant, m.id), gone.add(m.id));
            if (specs[i]!.fate === "expire") gone.add(m.id);
          }
          t.clock.advance(1001);
          const results = [
            ...(await t.memory.search.fullText(tenant, { query: q, limit: 100 })),
            // Rankings by vector where there is a vector engine (none on PostgreSQL without QDRANT_URL).
            ...(t.vectors.kind === "none" ? [] : await t.memory.search.semantic(tenant, { queryText: q, topK: 100 })),
            ...(await t.memory.search.hybrid(tenant, { query: q, topK: 100, semanticWeight: t.vectors.kind === "none" ? 0 : undefined })),
          ];
          for (const r of results) expect(gone.has(r.memory.id)).toBe(false);
          // and the live ones holding the word are found by full text
          const live = out.memories.filter((m, i) => !gone.has(m.id) && specs[i]!.words.includes(q)).map((m) => m.id).sort();
          expect((await t.memory.search.fullText(tenant, { query: q, limit: 100 })).map((h) => h.memory.id).sort()).toEqual(live);
        },
      ),
      { numRuns: 25 },
    );
  });

  it("compaction never loses the most important memory of a duplicate group", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.record({ group: fc.integer({ min: 0, max: 3 }), importance: fc.integer({ min: 0, max: 100 }), caps: fc.boolean() }), { minLength: 1, maxLength: 14 }),
        async (specs) => {
          const tenant = `prop-${run++}`;
          const out = await t.memory.memories.create(
            tenant,
            specs.map((s) => {
              const text = `duplicate group number ${["one", "two", "three", "four"][s.group]} of the property`;
              return { type: "dup", content: s.caps ? text.toUpperCase() : text, importance: s.importance / 100 };
            }),
            () => "memory.",
          );
          const r = await t.memory.compact(tenant, { merge: { similarityThreshold: 0.95 } }, 20_000);
          expect(r.task.state).toBe("succeeded");
          const left = (await t.memory.memories.list(tenant, { pageSize: 100 })).memories;
          for (let g = 0; g < 4; g++) {
            const members = out.memories.filter((_, i) => specs[i]!.group === g);
            if (members.length === 0) continue;
            const best = Math.max(...members.map((m) => m.importance));
            const kept = left.filter((m) => members.some((x) => x.id === m.id));
            expect(kept).toHaveLength(1); // each group merged into one
            expect(kept[0]!.importance).toBe(best); // and it keeps the group's highest importance
            const top = members.filter((m) => m.importance === best).map((m) => m.id);
            expect(top).toContain(kept[0]!.id);
            expect(new Set([kept[0]!.id, ...kept[0]!.mergedIds])).toEqual(new Set(members.map((m) => m.id)));
          }
        },
      ),
      { numRuns: 20 },
    );
  });
});
