import type { Readable } from "node:stream";

/** A byte range of a stored object, both ends included (HTTP `Range` semantics). */
export interface ByteRange {
  start: number;
  end: number;
}

/** What `put` checks while the bytes arrive. */
export interface PutOptions {
  /** The SHA-256 the bytes must hash to (64 lowercase hex digits). */
  expectedHash: string;
  /** Refuse (and store nothing) once more bytes than this arrived. */
  maxBytes: number;
}

/** Outcome of a `put`: stored now, or already there. Mismatch and size are errors. */
export interface PutResult {
  size: number;
  created: boolean;
}

/**
 * Content-addressed, immutable object storage, keyed by namespace (tenant and kind) and
 * SHA-256. Small on purpose: an object-storage implementation (S3 `PutObject` with a
 * checksum, `HeadObject`, ranged `GetObject`, `DeleteObject`) fits behind it.
 */
export interface BlobStore {
  /** Streams `source` into the store, hashing as the bytes arrive; nothing is visible under the hash unless it matched. */
  put(namespace: string, source: AsyncIterable<Uint8Array>, options: PutOptions): Promise<PutResult>;
  /**
   * Writes and checks `source` like `put`, but leaves it unpublished: `commit` makes it visible
   * under its hash (unless it is there already), `discard` drops it. PostgreSQL uploads commit
   * while their index row is locked, so that no GC of another instance can interleave.
   */
  stage(namespace: string, source: AsyncIterable<Uint8Array>, options: PutOptions): Promise<StagedObject>;
  /** Size of a stored object, or undefined. */
  stat(namespace: string, hash: string): Promise<{ size: number } | undefined>;
  /** A stream of a stored object's bytes (or of one range of them). */
  read(namespace: string, hash: string, range?: ByteRange): Readable;
  /** A whole (small) object: manifests and text files being merged. */
  readAll(namespace: string, hash: string): Promise<Uint8Array>;
  /** Removes an object; absent objects are no error. */
  delete(namespace: string, hash: string): Promise<void>;
}

/** Bytes written and checked, not yet visible under their hash. */
export interface StagedObject {
  readonly size: number;
  /** Publishes the bytes under their hash (atomic rename); false when they were there already. Idempotent. */
  commit(): Promise<boolean>;
  /** Removes the staged bytes if they were not published. Idempotent. */
  discard(): Promise<void>;
}

/** Why a `put` refused its bytes. */
export class BlobPutError extends Error {
  constructor(
    readonly kind: "hash_mismatch" | "too_large",
    message: string,
    readonly actualHash = "",
  ) {
    super(message);
    this.name = "BlobPutError";
  }
}

export const HASH = /^[0-9a-f]{64}$/;
