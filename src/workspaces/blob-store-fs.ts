import { createHash, randomBytes } from "node:crypto";
import { createReadStream, mkdirSync, readdirSync, rmSync, statSync } from "node:fs";
import { open, readFile, rename, stat, unlink } from "node:fs/promises";
import { join } from "node:path";
import { failpointAsync } from "../core/failpoints.ts";
import { classifyStorageError } from "../db/storage-guard.ts";
import { BlobPutError, HASH, type BlobStore, type ByteRange, type PutOptions, type PutResult, type StagedObject } from "./blob-store.ts";

/**
 * The BlobStore on a local filesystem: `<root>/<namespace>/<aa>/<hash>`. Bytes are written to
 * `<root>/tmp/` while hashed, fsync'd, renamed into place and the directory fsync'd, so a crash
 * never leaves a partial object under its hash; leftovers in `tmp/` are removed at startup.
 *
 * `shared`: the folder is shared storage of several instances (PostgreSQL). Temporary names are
 * random, so two instances writing one object never touch each other's file and the renames
 * leave one whole file; at startup only temporary files untouched for `STALE_TEMP_MS` are
 * removed (another instance may be writing the others right now).
 */
const WRITE_BATCH = 1024 * 1024;
/** A temporary file of a shared folder not written to for this long is a crashed instance's leftover. */
export const STALE_TEMP_MS = 3600_000;

export function createFsBlobStore(root: string, options: { shared?: boolean } = {}): BlobStore {
  const tmp = join(root, "tmp");
  if (options.shared) removeStaleTemps(tmp);
  else rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true });
  const made = new Set<string>();
  const pathOf = (namespace: string, hash: string) => {
    if (!HASH.test(hash)) throw new Error(`not a SHA-256 hex digest: ${hash}`);
    if (!/^[\w.-]+(\/[\w.-]+)*$/.test(namespace)) throw new Error(`bad namespace: ${namespace}`);
    return join(root, namespace, hash.slice(0, 2), hash);
  };
  const ensureDir = (dir: string) => {
    if (made.has(dir)) return;
    mkdirSync(dir, { recursive: true });
    made.add(dir);
  };
  async function fsyncDir(dir: string): Promise<void> {
    const fd = await open(dir, "r");
    try {
      await fd.sync();
    } finally {
      await fd.close();
    }
  }

  /**
   * Writes `source` to a temporary file while hashing it. `early`: an object already stored is
   * answered without an fsync of the copy (put's shortcut); a staged copy is kept until commit.
   */
  async function stageIn(namespace: string, source: AsyncIterable<Uint8Array>, options: PutOptions, early: boolean): Promise<StagedObject> {
    const final = pathOf(namespace, options.expectedHash);
    const temp = join(tmp, `${randomBytes(12).toString("hex")}.part`);
    const hasher = createHash("sha256");
    const fd = await open(temp, "wx");
    let size = 0;
    let ok = false;
    let writing: Promise<void> = Promise.resolve();
    try {
      // Chunks are hashed as they come and written in batches of about 1 MiB (fewer syscalls),
      // one batch being written while the next arrives.
      let pending: Uint8Array[] = [];
      let pendingBytes = 0;
      const writeAll = async (buf: Uint8Array) => {
        let written = 0;
        while (written < buf.byteLength) written += (await fd.write(buf, written)).bytesWritten;
      };
      const flush = async () => {
        const buf = pending.length === 1 ? pending[0]! : Buffer.concat(pending);
        pending = [];
        pendingBytes = 0;
        await writing;
        writing = writeAll(buf);
        // Awaited on the next batch or at the end; until then its failure (ENOSPC) must not
        // count as unhandled, which would end the process.
        writing.catch(() => {});
      };
      for await (const chunk of source) {
        size += chunk.byteLength;
        if (size > options.maxBytes) throw new BlobPutError("too_large", `blob is larger than ${options.maxBytes} bytes`);
        hasher.update(chunk);
        pending.push(chunk);
        pendingBytes += chunk.byteLength;
        if (pendingBytes >= WRITE_BATCH) await flush();
      }
      if (pendingBytes > 0) await flush();
      await writing;
      const actual = hasher.digest("hex");
      if (actual !== options.expectedHash) {
        throw new BlobPutError("hash_mismatch", `content hash ${actual.slice(0, 16)}... does not match requested hash ${options.expectedHash.slice(0, 16)}...`, actual);
      }
      const existing = early ? await stat(final).catch(() => undefined) : undefined;
      if (existing) return { size: existing.size, commit: async () => false, discard: async () => {} };
      await fd.sync();
      ok = true;
    } finally {
      await writing.catch(() => {});
      await fd.close().catch(() => {});
      if (!ok) await unlink(temp).catch(() => {});
    }
    let state: "staged" | "published" | "dropped" = "staged";
    return {
      size,
      async commit() {
        if (state !== "staged") return false;
        if (await stat(final).catch(() => undefined)) {
          state = "dropped";
          await unlink(temp).catch(() => {});
          return false;
        }
        const dir = join(final, "..");
        ensureDir(dir);
        await failpointAsync("blob.write.before_rename");
        await rename(temp, final);
        state = "published";
        await fsyncDir(dir);
        return true;
      },
      async discard() {
        if (state !== "staged") return;
        state = "dropped";
        await unlink(temp).catch(() => {});
      },
    };
  }

  const store: BlobStore = {
    async put(namespace: string, source: AsyncIterable<Uint8Array>, options: PutOptions): Promise<PutResult> {
      const staged = await stageIn(namespace, source, options, true);
      try {
        return { size: staged.size, created: await staged.commit() };
      } finally {
        await staged.discard();
      }
    },
    stage: (namespace, source, options) => stageIn(namespace, source, options, false),
    async stat(namespace, hash) {
      const s = await stat(pathOf(namespace, hash)).catch(() => undefined);
      return s ? { size: s.size } : undefined;
    },
    read(namespace: string, hash: string, range?: ByteRange) {
      return createReadStream(pathOf(namespace, hash), range ? { start: range.start, end: range.end } : {});
    },
    async readAll(namespace, hash) {
      return new Uint8Array(await readFile(pathOf(namespace, hash)));
    },
    async delete(namespace, hash) {
      await unlink(pathOf(namespace, hash)).catch((e: NodeJS.ErrnoException) => {
        if (e.code !== "ENOENT") throw e;
      });
    },
  };
  // A full or read-only disk is said as such (STORAGE_FULL, STORAGE_READ_ONLY), not as a 500;
  // the temporary file is already removed, so nothing is half-written under a hash.
  return {
    ...store,
    async put(namespace, source, options) {
      try {
        return await store.put(namespace, source, options);
      } catch (error) {
        throw classifyStorageError(error) ?? error;
      }
    },
    async stage(namespace, source, options) {
      try {
        return await store.stage(namespace, source, options);
      } catch (error) {
        throw classifyStorageError(error) ?? error;
      }
    },
  };
}

function removeStaleTemps(tmp: string): void {
  let names: string[];
  try {
    names = readdirSync(tmp);
  } catch {
    return;
  }
  const before = Date.now() - STALE_TEMP_MS;
  for (const name of names) {
    try {
      if (statSync(join(tmp, name)).mtimeMs < before) rmSync(join(tmp, name), { force: true });
    } catch {
      // removed meanwhile by another instance
    }
  }
}

/** Names of leftover temporary files (for tests: none after a restart). */
export function tempFilesOf(root: string): string[] {
  try {
    return readdirSync(join(root, "tmp"));
  } catch {
    return [];
  }
}
