// The BlobStore contract, run against every implementation available (today: the filesystem).
import { afterAll, describe, expect, it } from "bun:test";
import { createHash } from "node:crypto";
import { mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseRange } from "../server/legacy/fastest/blob-routes.ts";
import { BlobPutError, type BlobStore } from "./blob-store.ts";
import { createFsBlobStore, STALE_TEMP_MS, tempFilesOf } from "./blob-store-fs.ts";

const sha = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");
const chunks = (b: Uint8Array, size = 7) => (async function* () {
  for (let i = 0; i < b.byteLength; i += size) yield b.subarray(i, i + size);
})();
const text = async (s: NodeJS.ReadableStream) => {
  let out = "";
  for await (const c of s) out += c.toString();
  return out;
};

function describeBlobStore(name: string, make: () => { store: BlobStore; leftovers(): string[]; close(): void }) {
  describe(`BlobStore: ${name}`, () => {
    const { store, leftovers, close } = make();
    afterAll(close);
    const ns = "t-test/blobs";

    it("stores by hash once, streams whole objects and ranges back, deletes", async () => {
      const bytes = new TextEncoder().encode("hello, content-addressed world");
      const hash = sha(bytes);
      expect(await store.put(ns, chunks(bytes), { expectedHash: hash, maxBytes: 1000 })).toEqual({ size: bytes.byteLength, created: true });
      expect(await store.put(ns, chunks(bytes), { expectedHash: hash, maxBytes: 1000 })).toEqual({ size: bytes.byteLength, created: false });
      expect(await store.stat(ns, hash)).toEqual({ size: bytes.byteLength });
      expect(await text(store.read(ns, hash))).toBe("hello, content-addressed world");
      expect(await text(store.read(ns, hash, { start: 7, end: 13 }))).toBe("content");
      expect(new TextDecoder().decode(await store.readAll(ns, hash))).toBe("hello, content-addressed world");
      expect(await store.stat("t-other/blobs", hash)).toBeUndefined();
      await store.delete(ns, hash);
      await store.delete(ns, hash);
      expect(await store.stat(ns, hash)).toBeUndefined();
    });

    it("stores nothing on a hash mismatch, above the size limit, or when the source fails", async () => {
      const bytes = new TextEncoder().encode("some bytes");
      const wrong = sha(new TextEncoder().encode("other"));
      const mismatch = await store.put(ns, chunks(bytes), { expectedHash: wrong, maxBytes: 1000 }).catch((e) => e);
      expect(mismatch).toBeInstanceOf(BlobPutError);
      expect([mismatch.kind, mismatch.actualHash]).toEqual(["hash_mismatch", sha(bytes)]);
      const big = await store.put(ns, chunks(bytes, 3), { expectedHash: sha(bytes), maxBytes: 5 }).catch((e) => e);
      expect(big.kind).toBe("too_large");
      const failing = (async function* () {
        yield bytes.subarray(0, 4);
        throw new Error("client went away");
      })();
      await expect(store.put(ns, failing, { expectedHash: sha(bytes), maxBytes: 1000 })).rejects.toThrow("client went away");
      for (const h of [wrong, sha(bytes)]) expect(await store.stat(ns, h)).toBeUndefined();
      expect(leftovers()).toEqual([]);
    });

    it("lets concurrent writers of the same bytes both succeed, one of them creating", async () => {
      const bytes = new Uint8Array(300_000).map((_, i) => i % 7);
      const hash = sha(bytes);
      const results = await Promise.all([1, 2, 3].map(() => store.put(ns, chunks(bytes, 65536), { expectedHash: hash, maxBytes: 1e6 })));
      expect(results.every((r) => r.size === bytes.byteLength)).toBe(true);
      expect(results.filter((r) => r.created).length).toBeGreaterThanOrEqual(1);
      expect(sha(await store.readAll(ns, hash))).toBe(hash);
      expect(leftovers()).toEqual([]);
    });

    it("stages bytes unseen until commit; a commit over a stored object or a discard leaves nothing behind", async () => {
      const bytes = new TextEncoder().encode("staged bytes");
      const hash = sha(bytes);
      const first = await store.stage(ns, chunks(bytes), { expectedHash: hash, maxBytes: 1000 });
      const second = await store.stage(ns, chunks(bytes), { expectedHash: hash, maxBytes: 1000 });
      expect(await store.stat(ns, hash)).toBeUndefined();
      expect(await first.commit()).toBe(true);
      expect(await first.commit()).toBe(false);
      expect(await second.commit()).toBe(false);
      await first.discard();
      await second.discard();
      expect(new TextDecoder().decode(await store.readAll(ns, hash))).toBe("staged bytes");
      const dropped = await store.stage(ns, chunks(new TextEncoder().encode("dropped")), { expectedHash: sha(new TextEncoder().encode("dropped")), maxBytes: 1000 });
      await dropped.discard();
      expect(await dropped.commit()).toBe(false);
      expect(await store.stat(ns, sha(new TextEncoder().encode("dropped")))).toBeUndefined();
      await expect(store.stage(ns, chunks(bytes), { expectedHash: sha(new TextEncoder().encode("x")), maxBytes: 1000 })).rejects.toBeInstanceOf(BlobPutError);
      expect(leftovers()).toEqual([]);
    });
  });
}

describeBlobStore("filesystem", () => {
  const root = mkdtempSync(join(tmpdir(), "switchyard-blobs-"));
  return { store: createFsBlobStore(root), leftovers: () => tempFilesOf(root), close: () => rmSync(root, { recursive: true, force: true }) };
});

describeBlobStore("filesystem, shared by several instances", () => {
  const root = mkdtempSync(join(tmpdir(), "switchyard-blobs-shared-"));
  return { store: createFsBlobStore(root, { shared: true }), leftovers: () => tempFilesOf(root), close: () => rmSync(root, { recursive: true, force: true }) };
});

describe("BlobStore: filesystem startup", () => {
  it("clears tmp/ when the folder is its own, and only stale temporary files when it is shared", () => {
    const root = mkdtempSync(join(tmpdir(), "switchyard-blobs-start-"));
    try {
      const tmp = join(root, "tmp");
      mkdirSync(tmp, { recursive: true });
      const old = (Date.now() - STALE_TEMP_MS - 60_000) / 1000;
      const leave = () => {
        writeFileSync(join(tmp, "writing.part"), "another instance is writing this");
        writeFileSync(join(tmp, "crashed.part"), "left by a crash");
        utimesSync(join(tmp, "crashed.part"), old, old);
      };
      leave();
      createFsBlobStore(root, { shared: true });
      expect(tempFilesOf(root)).toEqual(["writing.part"]);
      leave();
      createFsBlobStore(root);
      expect(tempFilesOf(root)).toEqual([]);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});

describe("byte ranges (HTTP Range on blob downloads)", () => {
  const cases: [string | null, number, ReturnType<typeof parseRange>][] = [
    [null, 10, undefined],
    ["bytes=0-4", 10, { start: 0, end: 4 }],
    ["bytes=6-", 10, { start: 6, end: 9 }],
    ["bytes=-3", 10, { start: 7, end: 9 }],
    ["bytes=-30", 10, { start: 0, end: 9 }],
    ["bytes=5-100", 10, { start: 5, end: 9 }],
    ["bytes=10-", 10, "unsatisfiable"],
    ["bytes=5-4", 10, "unsatisfiable"],
    ["bytes=-0", 10, "unsatisfiable"],
    ["bytes=0-1,4-5", 10, undefined],
    ["items=0-1", 10, undefined],
  ];
  for (const [header, size, want] of cases) it(`${header ?? "no header"} of ${size} bytes`, () => expect(parseRange(header, size)).toEqual(want));
});
