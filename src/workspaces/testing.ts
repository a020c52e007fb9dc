import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Config } from "../config.ts";
import { createManualClock } from "../core/clock.ts";
import { createSecretBox } from "../core/secret-box.ts";
import { openDatabase, type Database } from "../db/client.ts";
import { storeBytes } from "./blobs.ts";
import type { WorkspaceDomain } from "./context.ts";
import { canonicalManifest, sha256Hex, type FileEntry } from "./manifests.ts";
import { createWorkspaceDomain } from "./module.ts";

/**
 * A workspace domain over a real SQLite file (or the given database, which its opener closes:
 * `describeDialects`) and a blob folder in a temp dir, with a manual clock.
 */
export async function testDomain(options: { gcGraceMs?: number; blobMaxBytes?: number; database?: Database } = {}) {
  const dir = mkdtempSync(join(tmpdir(), "switchyard-ws-"));
  const owned = !options.database;
  const database = options.database ?? openDatabase(join(dir, "test.db"));
  const clock = createManualClock();
  const secrets = await createSecretBox(Uint8Array.from(randomBytes(32)));
  const config = { dataDir: dir, blobMaxBytes: options.blobMaxBytes ?? 16 * 1024 * 1024, blobGcGraceMs: options.gcGraceMs ?? 0 } as Config;
  const d = createWorkspaceDomain({ config, database, clock, secrets });
  return {
    d,
    clock,
    dir,
    async close() {
      if (owned) await database.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Stores a tree of text files and its canonical manifest for a tenant; returns the manifest hash. */
export async function storeTree(d: WorkspaceDomain, tenant: string, files: Record<string, string>): Promise<string> {
  const entries: FileEntry[] = [];
  for (const [path, text] of Object.entries(files)) {
    const bytes = new TextEncoder().encode(text);
    const hash = sha256Hex(bytes);
    await storeBytes(d, tenant, "blob", hash, bytes);
    entries.push({ path, hash, size: bytes.byteLength, mode: 0o644 });
  }
  const m = canonicalManifest(entries);
  await storeBytes(d, tenant, "manifest", m.hash, m.bytes);
  return m.hash;
}
