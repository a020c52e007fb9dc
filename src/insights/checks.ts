import { AppError, invalidArgument } from "../core/errors.ts";
import type { Json } from "../tasks/types.ts";

/** Page size and offset: 0 means `fallback`, above `max` is `invalid_argument`. */
export function page(size: number, token: string, fallback: number, max: number): { limit: number; offset: number } {
  if (size < 0 || size > max) throw invalidArgument("page_size", `must be between 0 and ${max}`);
  if (token !== "" && !/^\d{1,9}$/.test(token)) throw invalidArgument("page_token", "was not issued by this server");
  return { limit: size || fallback, offset: token === "" ? 0 : Number(token) };
}

/** `limit`/`offset` style (seed 002 query parameters). */
export function limitOffset(limit: number, offset: number, fallback: number, max: number): { limit: number; offset: number } {
  if (limit < 0 || limit > max) throw invalidArgument("limit", `must be between 0 and ${max}`);
  if (offset < 0) throw invalidArgument("offset", "must not be negative");
  return { limit: limit || fallback, offset };
}

export function oneOf(field: string, value: string, allowed: readonly string[]): string {
  if (!allowed.includes(value)) throw invalidArgument(field, `must be one of ${allowed.join(", ")}`);
  return value;
}

export const notFound = (reason: string, what: string, id: string) => new AppError("not_found", reason, `${what} ${id} not found`, { id });

/**
 * A tiny result validator: `shape` names each required field's kind. Answers the first
 * problem ("next_steps[0].title: expected a non-empty string") or undefined.
 */
type Kind = "string" | "text" | "boolean" | "number" | "strings" | { list: Shape; max: number } | { enum: readonly string[] } | { optional: Kind };
export interface Shape {
  [field: string]: Kind;
}

function checkValue(path: string, v: unknown, kind: Kind): string | undefined {
  if (typeof kind === "object" && "optional" in kind) return v === undefined || v === null ? undefined : checkValue(path, v, kind.optional);
  if (kind === "string") return typeof v === "string" && v.trim() !== "" && v.length <= 10_000 ? undefined : `${path}: expected a non-empty string (at most 10000 characters)`;
  if (kind === "text") return typeof v === "string" && v.length <= 1_000_000 ? undefined : `${path}: expected a string`;
  if (kind === "boolean") return typeof v === "boolean" ? undefined : `${path}: expected a boolean`;
  if (kind === "number") return typeof v === "number" && Number.isFinite(v) ? undefined : `${path}: expected a number`;
  if (kind === "strings") return Array.isArray(v) && v.length <= 10_000 && v.every((s) => typeof s === "string") ? undefined : `${path}: expected a list of strings`;
  if ("enum" in kind) return typeof v === "string" && kind.enum.includes(v) ? undefined : `${path}: expected one of ${kind.enum.join(", ")}`;
  if (!Array.isArray(v)) return `${path}: expected a list`;
  if (v.length > kind.max) return `${path}: at most ${kind.max} items`;
  for (const [i, item] of v.entries()) {
    const p = checkShape(item as Json, kind.list, `${path}[${i}]`);
    if (p) return p;
  }
  return undefined;
}

export function checkShape(value: Json | undefined, shape: Shape, path = "result"): string | undefined {
  if (value === null || typeof value !== "object" || Array.isArray(value)) return `${path}: expected an object`;
  for (const [field, kind] of Object.entries(shape)) {
    const p = checkValue(`${path === "result" ? "" : path + "."}${field}`, (value as Record<string, unknown>)[field], kind);
    if (p) return p;
  }
  return undefined;
}

/** The answer of a lookup that may throw (another domain's `get…` answering not-found), or undefined. */
export async function maybe<T>(f: () => T | Promise<T>): Promise<T | undefined> {
  try {
    return await f();
  } catch {
    return undefined;
  }
}
