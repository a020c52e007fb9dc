import { createHash } from "node:crypto";
import type { Clock } from "../core/clock.ts";
import type { SecretBox } from "../core/secret-box.ts";
import type { Database } from "../db/client.ts";
import type { BlobStore } from "./blob-store.ts";
import type { ConflictAdvisor } from "./conflict-advisor.ts";
import type { EventHub } from "./events.ts";
import type { Manifest } from "./manifests.ts";
import type { WorkspaceStore } from "./store.ts";
import type { ObjectKind } from "./types.ts";

/** Limits of the workspace domain (from configuration). */
export interface WorkspaceLimits {
  blobMaxBytes: number;
  manifestMaxBytes: number;
  gcGraceMs: number;
  previewTtlMs: number;
}

/** Everything the workspace domain's rules work with. */
export interface WorkspaceDomain {
  database: Database;
  store: WorkspaceStore;
  blobs: BlobStore;
  clock: Clock;
  secrets: SecretBox;
  events: EventHub;
  limits: WorkspaceLimits;
  /** Asked to combine text conflicts while a sync is prepared; none: conflicts stay decisions. */
  advisor?: ConflictAdvisor;
  /** Uploads in flight and deletions in progress, by `tenant/kind/hash` (see gc.ts). */
  inflight: Map<string, number>;
  deleting: Map<string, Promise<void>>;
  /** Parsed manifests by `tenant/hash` (immutable, so caching is safe). */
  manifestCache: Map<string, Manifest>;
}

/** Storage namespace of a tenant's blobs or manifests (tenant names never reach the filesystem). */
export function namespaceOf(tenant: string, kind: ObjectKind): string {
  return `t-${createHash("sha256").update(tenant).digest("hex").slice(0, 24)}/${kind}s`;
}

export const objectKey = (tenant: string, kind: ObjectKind, hash: string) => `${tenant}\u0000${kind}\u0000${hash}`;
