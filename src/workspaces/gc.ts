import { AppError, invalidArgument } from "../core/errors.ts";
import { step } from "../db/op.ts";
import { loadManifest, mb } from "./blobs.ts";
import { namespaceOf, objectKey, type WorkspaceDomain } from "./context.ts";
import { read } from "./events.ts";

export interface GcResult {
  dryRun: boolean;
  scannedBlobs: number;
  orphanedBlobs: number;
  freedBytes: number;
  freedMB: number;
}

/** Default and most blobs one GC call scans. */
export const GC_DEFAULT_BLOBS = 10_000;
export const GC_MAX_BLOBS = 100_000;
/** Orphans deleted per transaction (PostgreSQL: fewer, since the files go inside it). */
const GC_BATCH = 1000;
const GC_BATCH_PG = 200;

/**
 * Collects the tenant's orphaned blobs: referenced by no manifest of a snapshot or workspace,
 * nor by a manifest stored less than the grace period ago or after the scan started, older than
 * the grace period, and not being uploaded. Dry run unless told otherwise.
 *
 * Safety against concurrent writers (single process owns the data directory): a blob is
 * marked "being deleted" synchronously, after checking that no upload has pinned it; an upload
 * waits for such a deletion before it pins and writes. Manifests stored after the scan started
 * are read again right before deleting, and their blobs are spared. Rows are deleted (only if
 * still older than the scan start) before files, so a crash leaves at worst an unindexed file.
 *
 * On PostgreSQL (several instances, one shared folder, the database's clock): a real run holds
 * the tenant's GC advisory lock (another instance's run answers GC_IN_PROGRESS), and each batch
 * deletes its rows and then its files inside one transaction, with the rows locked: an upload
 * of one of them on any instance (which locks the row to refresh it, see putObject) waits for
 * that transaction and then writes row and file anew, or it went first and the row is too
 * young to delete. A failed COMMIT after the files went would leave rows without files (the
 * connection lost at that instant); the next upload of such a blob restores its file.
 */
export async function collectGarbage(d: WorkspaceDomain, tenant: string, options: { dryRun?: boolean; maxBlobs?: number }): Promise<GcResult> {
  const dryRun = options.dryRun ?? true;
  const maxBlobs = options.maxBlobs ?? 0;
  if (!Number.isInteger(maxBlobs) || maxBlobs < 0 || maxBlobs > GC_MAX_BLOBS) throw invalidArgument("maxBlobs", `must be between 0 and ${GC_MAX_BLOBS}`);
  const limit = maxBlobs === 0 ? GC_DEFAULT_BLOBS : maxBlobs;
  const release = dryRun ? async () => {} : await read(d, (tx) => d.store.gcLock(tx, tenant));
  if (!release) throw new AppError("aborted", "GC_IN_PROGRESS", "another instance is collecting this tenant's garbage; try again when it is done");
  try {
    return await collect(d, tenant, dryRun, limit);
  } finally {
    await release();
  }
}

async function collect(d: WorkspaceDomain, tenant: string, dryRun: boolean, limit: number): Promise<GcResult> {
  const scanStart = d.clock.now();
  const cutoff = scanStart - d.limits.gcGraceMs;

  const referenced = new Set<string>();
  const addRefs = async (manifestHash: string) => {
    try {
      for (const f of (await loadManifest(d, tenant, manifestHash)).files) referenced.add(f.hash);
    } catch {
      // A snapshot whose manifest is gone refers to nothing that can be kept.
    }
  };
  const roots = new Set(
    await read(d, function* (tx) {
      return [...(yield* d.store.referencedManifests(tx, tenant)), ...(yield* d.store.manifestsCreatedSince(tx, tenant, cutoff))];
    }),
  );
  for (const h of roots) await addRefs(h);

  const candidates: { hash: string; size: number }[] = [];
  let scanned = 0;
  let after = "";
  while (scanned < limit) {
    const page = await read(d, (tx) => d.store.scanObjects(tx, tenant, "blob", after, Math.min(1000, limit - scanned)));
    if (page.length === 0) break;
    for (const b of page) {
      scanned++;
      if (!referenced.has(b.hash) && b.createdAt < cutoff) candidates.push(b);
    }
    after = page[page.length - 1]!.hash;
  }

  // Manifests written while we scanned protect their blobs too.
  for (const h of await read(d, (tx) => d.store.manifestsCreatedSince(tx, tenant, scanStart))) if (!roots.has(h)) await addRefs(h);
  const orphans = candidates.filter((b) => !referenced.has(b.hash));
  let freed = 0;
  let count = 0;
  if (dryRun) {
    for (const b of orphans) freed += b.size;
    count = orphans.length;
  } else {
    const ns = namespaceOf(tenant, "blob");
    // In batches: one transaction deletes a batch's rows, then its files go (a few at a time).
    const pg = d.database.dialect === "postgres";
    const size = pg ? GC_BATCH_PG : GC_BATCH;
    const unlink = async (hashes: string[]) => {
      for (let j = 0; j < hashes.length; j += 32) await Promise.all(hashes.slice(j, j + 32).map((h) => d.blobs.delete(ns, h)));
    };
    for (let i = 0; i < orphans.length; i += size) {
      const batch = orphans.slice(i, i + size).filter((b) => {
        const key = objectKey(tenant, "blob", b.hash);
        return !d.inflight.has(key) && !d.deleting.has(key);
      });
      let done!: () => void;
      const deletion = new Promise<void>((r) => (done = r));
      for (const b of batch) d.deleting.set(objectKey(tenant, "blob", b.hash), deletion);
      try {
        const hashes = batch.map((b) => b.hash);
        const gone = await d.database.write(function* (tx) {
          const rows = yield* d.store.deleteObjects(tx, tenant, "blob", hashes, scanStart);
          // PostgreSQL: the files go while the rows are locked (see above); SQLite: after the commit.
          if (pg) yield* step(unlink(rows));
          return rows;
        });
        if (!pg) await unlink(gone);
        const removed = new Set(gone);
        const deleted = batch.filter((b) => removed.has(b.hash));
        for (const b of deleted) freed += b.size;
        count += deleted.length;
      } finally {
        for (const b of batch) d.deleting.delete(objectKey(tenant, "blob", b.hash));
        done();
      }
    }
  }
  return { dryRun, scannedBlobs: scanned, orphanedBlobs: count, freedBytes: freed, freedMB: mb(freed) };
}
