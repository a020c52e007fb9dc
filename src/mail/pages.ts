import { invalidArgument } from "../core/errors.ts";

export const DEFAULT_PAGE_SIZE = 50;
export const MAX_PAGE_SIZE = 1000;

/** Page size rule of every list: 0 or absent → 50; 1–1000; anything else is invalid_argument. */
export function pageSize(size: number | undefined): number {
  if (size === undefined || size === 0) return DEFAULT_PAGE_SIZE;
  if (!Number.isInteger(size) || size < 0 || size > MAX_PAGE_SIZE) throw invalidArgument("page_size", `must be between 0 and ${MAX_PAGE_SIZE}`);
  return size;
}

/** An opaque page token for a cursor object. */
export function encodePageToken(cursor: Record<string, string | number>): string {
  return Buffer.from(JSON.stringify(cursor)).toString("base64url");
}

/** Reads a page token made by encodePageToken; a bad token is invalid_argument on `page_token`. */
export function decodePageToken<T extends Record<string, string | number>>(token: string | undefined, check: (c: Record<string, unknown>) => c is T): T | undefined {
  if (!token) return undefined;
  try {
    const c = JSON.parse(Buffer.from(token, "base64url").toString()) as unknown;
    if (c && typeof c === "object" && check(c as Record<string, unknown>)) return c as T;
  } catch {
    // fall through
  }
  throw invalidArgument("page_token", "is not a token from a previous page");
}
