import { invalidArgument } from "../core/errors.ts";

export const MAX_PATH_BYTES = 1024;
export const MAX_PATH_SEGMENTS = 64;
export const MAX_SEGMENT_BYTES = 255;

// NUL, other C0 controls, DEL and C1 controls.
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;
const encoder = new TextEncoder();

/**
 * Normalizes a lease path so that one file has one spelling: NFC, `/`-separated, with empty
 * and `.` segments and leading/trailing slashes removed (`./src//a.ts` → `src/a.ts`).
 * Refuses (invalid_argument naming `field`) empty paths, `..` segments, backslashes, control
 * characters including NUL, and paths over 1024 bytes, 64 segments or 255-byte segments.
 */
export function normalizeLeasePath(path: unknown, field = "path"): string {
  if (typeof path !== "string" || path.length === 0) throw invalidArgument(field, "is required");
  if (CONTROL.test(path)) throw invalidArgument(field, "must not contain NUL or control characters");
  if (path.includes("\\")) throw invalidArgument(field, "must use '/' as separator (no backslashes)");
  if (path.length > MAX_PATH_BYTES * 4) throw invalidArgument(field, `must be at most ${MAX_PATH_BYTES} bytes`);
  const segments: string[] = [];
  for (const s of path.normalize("NFC").split("/")) {
    if (s === "" || s === ".") continue;
    if (s === "..") throw invalidArgument(field, "must not contain '..' segments");
    if (encoder.encode(s).length > MAX_SEGMENT_BYTES) throw invalidArgument(field, `segments must be at most ${MAX_SEGMENT_BYTES} bytes`);
    segments.push(s);
  }
  if (segments.length === 0) throw invalidArgument(field, "must name a file or directory");
  if (segments.length > MAX_PATH_SEGMENTS) throw invalidArgument(field, `must have at most ${MAX_PATH_SEGMENTS} segments`);
  const normalized = segments.join("/");
  if (encoder.encode(normalized).length > MAX_PATH_BYTES) throw invalidArgument(field, `must be at most ${MAX_PATH_BYTES} bytes`);
  return normalized;
}

/** Checks a list prefix: a plain string prefix of normalized paths (may be empty). */
export function validatePathPrefix(prefix: unknown, field = "prefix"): string {
  if (prefix === undefined || prefix === null || prefix === "") return "";
  if (typeof prefix !== "string") throw invalidArgument(field, "must be a string");
  if (CONTROL.test(prefix)) throw invalidArgument(field, "must not contain NUL or control characters");
  if (encoder.encode(prefix).length > MAX_PATH_BYTES) throw invalidArgument(field, `must be at most ${MAX_PATH_BYTES} bytes`);
  // Same spelling rules as paths, but keep a trailing '/' ("src/" must not match "src2/…").
  const trailing = prefix.endsWith("/");
  const segments = prefix.normalize("NFC").split("/").filter((s) => s !== "" && s !== ".");
  if (segments.includes("..")) throw invalidArgument(field, "must not contain '..' segments");
  const joined = segments.join("/");
  return trailing && joined !== "" ? `${joined}/` : joined;
}
