import { createHash } from "node:crypto";
import { AppError } from "../core/errors.ts";
import { HASH } from "./blob-store.ts";

/** One file of a manifest (seed 002 `FileEntry`). */
export interface FileEntry {
  path: string;
  hash: string;
  size: number;
  mode: number;
  mod_time?: number;
}

/** A file tree: seed 002 `Manifest` (`{ version: "1", files: [...] }`). */
export interface Manifest {
  version: string;
  files: FileEntry[];
}

/** Files by path. */
export type FileMap = Map<string, FileEntry>;

/** Most files one manifest may list. */
export const MAX_MANIFEST_FILES = 200_000;

/** Parses and checks a manifest's bytes; `MANIFEST_INVALID` names what is wrong. */
export function parseManifest(bytes: Uint8Array): Manifest {
  let value: unknown;
  try {
    value = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes));
  } catch (e) {
    throw invalid(`not UTF-8 JSON: ${(e as Error).message}`);
  }
  if (value === null || typeof value !== "object" || Array.isArray(value)) throw invalid("must be a JSON object");
  const m = value as { version?: unknown; files?: unknown };
  const files = m.files ?? [];
  if (!Array.isArray(files)) throw invalid("files must be an array");
  if (files.length > MAX_MANIFEST_FILES) throw invalid(`more than ${MAX_MANIFEST_FILES} files`);
  const seen = new Set<string>();
  const out: FileEntry[] = [];
  for (let i = 0; i < files.length; i++) {
    const f = files[i] as Partial<FileEntry> | null;
    if (!f || typeof f !== "object") throw invalid(`files[${i}] must be an object`);
    if (typeof f.path !== "string" || f.path === "" || f.path.length > 4096) throw invalid(`files[${i}].path must be a non-empty string`);
    if (typeof f.hash !== "string" || !HASH.test(f.hash)) throw invalid(`files[${i}].hash must be 64 lowercase hex digits`);
    if (typeof f.size !== "number" || !Number.isSafeInteger(f.size) || f.size < 0) throw invalid(`files[${i}].size must be a whole number`);
    if (seen.has(f.path)) throw invalid(`files[${i}].path ${f.path} is listed twice`);
    seen.add(f.path);
    const entry: FileEntry = { path: f.path, hash: f.hash, size: f.size, mode: typeof f.mode === "number" ? f.mode : 0o644 };
    if (typeof f.mod_time === "number") entry.mod_time = f.mod_time;
    out.push(entry);
  }
  return { version: typeof m.version === "string" ? m.version : "1", files: out };
}

function invalid(message: string): AppError {
  return new AppError("invalid_argument", "MANIFEST_INVALID", `manifest ${message}`, { field: "body" });
}

/**
 * The canonical bytes of a manifest the server writes (merge results, undo never writes):
 * `{"version":"1","files":[{"path","hash","size","mode"}...]}` with files sorted by path
 * (UTF-16 code unit order, as the CLI's sort), no whitespace, `mod_time` left out. Its SHA-256
 * is its hash. Manifests uploaded by clients are kept byte for byte whatever their form.
 */
export function canonicalManifest(files: Iterable<FileEntry>): { bytes: Uint8Array; hash: string } {
  const sorted = [...files].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  const text = JSON.stringify({ version: "1", files: sorted.map((f) => ({ path: f.path, hash: f.hash, size: f.size, mode: f.mode })) });
  const bytes = new TextEncoder().encode(text);
  return { bytes, hash: sha256Hex(bytes) };
}

export function sha256Hex(bytes: Uint8Array | string): string {
  return createHash("sha256").update(bytes).digest("hex");
}

export function fileMap(m: Manifest): FileMap {
  return new Map(m.files.map((f) => [f.path, f]));
}

/** File-level differences from `from` to `to`: added, modified (by hash), deleted, bytes changed. */
export function diffFiles(from: FileMap, to: FileMap): { added: string[]; modified: string[]; deleted: string[]; bytesChanged: number } {
  const added: string[] = [];
  const modified: string[] = [];
  const deleted: string[] = [];
  let bytesChanged = 0;
  for (const [path, f] of to) {
    const old = from.get(path);
    if (!old) {
      added.push(path);
      bytesChanged += f.size;
    } else if (old.hash !== f.hash) {
      modified.push(path);
      bytesChanged += Math.abs(f.size - old.size) || f.size;
    }
  }
  for (const [path, f] of from) {
    if (!to.has(path)) {
      deleted.push(path);
      bytesChanged += f.size;
    }
  }
  return { added: added.sort(), modified: modified.sort(), deleted: deleted.sort(), bytesChanged };
}
