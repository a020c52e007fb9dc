import type { Readable } from "node:stream";
import { AppError, invalidArgument } from "../core/errors.ts";
import { BlobPutError, HASH, type ByteRange } from "./blob-store.ts";
import { step } from "../db/op.ts";
import { namespaceOf, objectKey, type WorkspaceDomain } from "./context.ts";
import { read } from "./events.ts";
import { parseManifest, sha256Hex, type Manifest } from "./manifests.ts";
import type { ObjectKind } from "./types.ts";

/** Most hashes one exists/presign call takes (seed 002). */
export const MAX_HASHES = 100;

export function checkHash(hash: string, field: string): void {
  if (!HASH.test(hash)) throw invalidArgument(field, "must be a SHA-256 digest: 64 lowercase hex digits");
}

export function checkHashes(hashes: string[]): void {
  if (hashes.length === 0) throw invalidArgument("hashes", "must list at least one hash");
  if (hashes.length > MAX_HASHES) throw invalidArgument("hashes", `at most ${MAX_HASHES} hashes per call`);
  hashes.forEach((h, i) => checkHash(h, `hashes[${i}]`));
}

/** Which of the tenant's blobs are stored (a tenant never learns about another's). */
export async function checkBlobs(d: WorkspaceDomain, tenant: string, hashes: string[]): Promise<{ missing: string[]; existing: string[]; checked: number }> {
  checkHashes(hashes);
  const unique = [...new Set(hashes)];
  const have = await read(d, (tx) => d.store.existingObjects(tx, tenant, "blob", unique));
  return { missing: unique.filter((h) => !have.has(h)), existing: unique.filter((h) => have.has(h)), checked: unique.length };
}

/** Holds an object against GC while it is being written; waits for a deletion of it to finish first. */
async function pin(d: WorkspaceDomain, key: string): Promise<() => void> {
  for (let del = d.deleting.get(key); del; del = d.deleting.get(key)) await del;
  d.inflight.set(key, (d.inflight.get(key) ?? 0) + 1);
  return () => {
    const n = (d.inflight.get(key) ?? 1) - 1;
    if (n <= 0) d.inflight.delete(key);
    else d.inflight.set(key, n);
  };
}

/**
 * Stores an object streamed from `source`: hashed while it arrives, refused (nothing stored)
 * on a mismatch or above the size limit, durable (file fsync'd and indexed) before it answers.
 *
 * On SQLite one process owns the folder: the file is published, then indexed, and the pins
 * above keep this process's GC away. On PostgreSQL the folder is shared by every instance: the
 * bytes are staged (written, checked, fsync'd) first, then published (renamed into place)
 * inside the transaction that inserts or refreshes their index row. That row stays locked until
 * the commit, so another instance's GC, which deletes rows and then their files in one
 * transaction, either finishes before (and the upload puts row and file back) or waits and
 * then finds the row too young to collect.
 */
export async function putObject(
  d: WorkspaceDomain,
  tenant: string,
  kind: ObjectKind,
  hash: string,
  source: AsyncIterable<Uint8Array>,
  declaredSize?: number,
): Promise<{ hash: string; size: number; created: boolean }> {
  checkHash(hash, "hash");
  const maxBytes = kind === "blob" ? d.limits.blobMaxBytes : d.limits.manifestMaxBytes;
  // A declared size above the limit is refused before a byte is read.
  if (declaredSize !== undefined && declaredSize > maxBytes) throw tooLarge(kind, maxBytes);
  const unpin = await pin(d, objectKey(tenant, kind, hash));
  try {
    let body = source;
    if (kind === "manifest") {
      // Manifests are small (≤ 32 MiB) and must be checked whole before anything is stored:
      // hash first (a mismatch is reported as such), then the format.
      const bytes = await readLimited(source, maxBytes, kind);
      const actual = sha256Hex(bytes);
      if (actual !== hash) throw new AppError("invalid_argument", "HASH_MISMATCH", "Manifest hash does not match", { field: "hash", actual_hash: actual });
      d.manifestCache.set(`${tenant}/${hash}`, parseManifest(bytes));
      body = (async function* () {
        yield bytes;
      })();
    }
    const refused = (error: unknown) => {
      if (error instanceof BlobPutError) {
        if (error.kind === "too_large") return tooLarge(kind, maxBytes);
        return new AppError("invalid_argument", "HASH_MISMATCH", error.message, { field: "hash", actual_hash: error.actualHash });
      }
      return error;
    };
    const options = { expectedHash: hash, maxBytes };
    if (d.database.dialect === "sqlite") {
      const stored = await d.blobs.put(namespaceOf(tenant, kind), body, options).catch((e: unknown) => Promise.reject(refused(e)));
      const created = await d.database.write((tx) => d.store.insertObject(tx, tenant, kind, hash, stored.size, d.clock.now()));
      return { hash, size: stored.size, created };
    }
    const staged = await d.blobs.stage(namespaceOf(tenant, kind), body, options).catch((e: unknown) => Promise.reject(refused(e)));
    try {
      const created = await d.database.write(function* (tx) {
        const fresh = yield* d.store.insertObject(tx, tenant, kind, hash, staged.size, d.clock.now());
        yield* step(staged.commit());
        return fresh;
      });
      return { hash, size: staged.size, created };
    } finally {
      await staged.discard();
    }
  } finally {
    unpin();
  }
}

function tooLarge(kind: ObjectKind, maxBytes: number): AppError {
  return new AppError("resource_exhausted", kind === "blob" ? "BLOB_TOO_LARGE" : "MANIFEST_TOO_LARGE", `${kind} is larger than ${maxBytes} bytes`, { limit: String(maxBytes) });
}

async function readLimited(source: AsyncIterable<Uint8Array>, maxBytes: number, kind: ObjectKind): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of source) {
    size += chunk.byteLength;
    if (size > maxBytes) throw tooLarge(kind, maxBytes);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

/** A stored object ready to be streamed: size, and a reader for the whole or a range. */
export interface ObjectHandle {
  hash: string;
  size: number;
  open(range?: ByteRange): Readable;
}

export async function openObject(d: WorkspaceDomain, tenant: string, kind: ObjectKind, hash: string): Promise<ObjectHandle> {
  checkHash(hash, "hash");
  const size = await read(d, (tx) => d.store.objectSize(tx, tenant, kind, hash));
  if (size === undefined) {
    throw new AppError("not_found", kind === "blob" ? "BLOB_NOT_FOUND" : "MANIFEST_NOT_FOUND", kind === "blob" ? "Blob not found" : "Manifest not found", { hash });
  }
  return { hash, size, open: (range) => d.blobs.read(namespaceOf(tenant, kind), hash, range) };
}

/** Reads a whole object (gRPC downloads, manifests, texts being merged). */
export async function readObject(d: WorkspaceDomain, tenant: string, kind: ObjectKind, hash: string): Promise<Uint8Array> {
  await openObject(d, tenant, kind, hash);
  return d.blobs.readAll(namespaceOf(tenant, kind), hash);
}

/** A stored manifest, parsed (cached: manifests never change). `MANIFEST_NOT_FOUND` otherwise. */
export async function loadManifest(d: WorkspaceDomain, tenant: string, hash: string): Promise<Manifest> {
  const key = `${tenant}/${hash}`;
  const cached = d.manifestCache.get(key);
  if (cached) return cached;
  const manifest = parseManifest(await readObject(d, tenant, "manifest", hash));
  if (d.manifestCache.size >= 256) d.manifestCache.delete(d.manifestCache.keys().next().value!);
  d.manifestCache.set(key, manifest);
  return manifest;
}

/** Stores bytes the server produced (merge results, canonical manifests). */
export async function storeBytes(d: WorkspaceDomain, tenant: string, kind: ObjectKind, hash: string, bytes: Uint8Array): Promise<void> {
  await putObject(d, tenant, kind, hash, (async function* () {
    yield bytes;
  })());
}

const mb = (bytes: number) => Math.round((bytes / 1048576) * 100) / 100;

/** The tenant's storage usage. */
export async function storageStats(d: WorkspaceDomain, tenant: string) {
  const blobs = await read(d, (tx) => d.store.objectStats(tx, tenant, "blob"));
  const manifests = await read(d, (tx) => d.store.objectStats(tx, tenant, "manifest"));
  const total = blobs.bytes + manifests.bytes;
  return {
    blobs: { ...blobs, mb: mb(blobs.bytes) },
    manifests: { ...manifests, mb: mb(manifests.bytes) },
    total: { bytes: total, mb: mb(total) },
  };
}

export { mb };
