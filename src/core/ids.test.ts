import { describe, expect, it } from "bun:test";
import { newId } from "./ids.ts";

describe("newId", () => {
  it("is prefix, 10 time characters, a 4-character counter and 10 random ones, in Crockford base32", () => {
    expect(newId("task", 0)).toMatch(/^task_0{10}[0-9a-hjkmnp-tv-z]{14}$/);
  });

  it("sorts in creation order within a process, across many ids in one millisecond", () => {
    const now = Date.now();
    const ids = Array.from({ length: 1000 }, () => newId("t", now));
    expect([...ids].sort()).toEqual(ids);
  });

  it("draws fresh random characters for every id, across refills of its random pool", () => {
    // 5,000 ids cross the 4 KiB pool (409 ids each) a dozen times: no random part repeats, and
    // every alphabet character appears in each of the 10 positions.
    const rands = Array.from({ length: 5000 }, () => newId("t").slice(-10));
    expect(new Set(rands).size).toBe(rands.length);
    for (let pos = 0; pos < 10; pos++) expect(new Set(rands.map((r) => r[pos])).size).toBe(32);
  });
});
