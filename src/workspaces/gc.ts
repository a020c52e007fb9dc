import { invalidArgument } from "../core/errors.ts";
import { loadManifest, mb } from "./blobs.ts";
import { namespaceOf, objectKey, type WorkspaceDomain } from "./context.ts";

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
/** Orphans deleted per transaction. */
const GC_BATCH = 1000;

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
 */
export async function collectGarbage(d: WorkspaceDomain, tenant: string, options: { dryRun?: boolean; maxBlobs?: number }): Promise<GcResult> {
  const dryRun = options.dryRun ?? true;
  const maxBlobs = options.maxBlobs ?? 0;
  if (!Number.isInteger(maxBlobs) || maxBlobs < 0 || maxBlobs > GC_MAX_BLOBS) throw invalidArgument("maxBlobs", `must be between 0 and ${GC_MAX_BLOBS}`);
  const limit = maxBlobs === 0 ? GC_DEFAULT_BLOBS : maxBlobs;
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
  const roots = new Set([...d.store.referencedManifests(tenant), ...d.store.manifestsCreatedSince(tenant, cutoff)]);
  for (const h of roots) await addRefs(h);

  const candidates: { hash: string; size: number }[] = [];
  let scanned = 0;
  let after = "";
  while (scanned < limit) {
    const page = d.store.scanObjects(tenant, "blob", after, Math.min(1000, limit - scanned));
    if (page.length === 0) break;
    for (const b of page) {
      scanned++;
      if (!referenced.has(b.hash) && b.createdAt < cutoff) candidates.push(b);
    }
    after = page[page.length - 1]!.hash;
  }

  // Manifests written while we scanned protect their blobs too.
  for (const h of d.store.manifestsCreatedSince(tenant, scanStart)) if (!roots.has(h)) await addRefs(h);
  const orphans = candidates.filter((b) => !referenced.has(b.hash));
  let freed = 0;
  let count = 0;
  if (dryRun) {
    for (const b of orphans) freed += b.size;
    count = orphans.length;
  } else {
    const ns = namespaceOf(tenant, "blob");
    // In batches: one transaction deletes a batch's rows, then its files go (a few at a time).
    for (let i = 0; i < orphans.length; i += GC_BATCH) {
      const batch = orphans.slice(i, i + GC_BATCH).filter((b) => {
        const key = objectKey(tenant, "blob", b.hash);
        return !d.inflight.has(key) && !d.deleting.has(key);
      });
      let done!: () => void;
      const deletion = new Promise<void>((r) => (done = r));
      for (const b of batch) d.deleting.set(objectKey(tenant, "blob", b.hash), deletion);
      try {
        const deleted = await d.database.committer.run(() => batch.filter((b) => d.store.deleteObject(tenant, "blob", b.hash, scanStart)));
        for (let j = 0; j < deleted.length; j += 32) await Promise.all(deleted.slice(j, j + 32).map((b) => d.blobs.delete(ns, b.hash)));
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
