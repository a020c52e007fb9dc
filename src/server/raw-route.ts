import type { UniversalHandler } from "@connectrpc/connect/protocol";
import type { Logger } from "../core/logger.ts";
import type { Exchange } from "./http-io.ts";

/** What a raw route may use to call RPCs in-process (see `invoke.ts`). */
export interface RawDeps {
  handlers: Map<string, UniversalHandler>;
  log: Logger;
  maxMessageBytes: number;
}

/**
 * A route that handles the HTTP exchange itself, for bodies that must stream (blob uploads and
 * downloads with Range). It should still call its RPC in-process, so auth and errors are shared.
 */
export interface RawRoute {
  method: "GET" | "PUT" | "POST" | "PATCH" | "DELETE";
  /** Express-style path: `/v1/blobs/upload/:hash`. */
  path: string;
  handle(ex: Exchange, params: Record<string, string>, deps: RawDeps): Promise<void>;
}

export interface RawRouter {
  match(method: string, path: string): { route: RawRoute; params: Record<string, string> } | undefined;
}

export function createRawRouter(routes: RawRoute[]): RawRouter {
  const compiled = routes.map((route) => {
    const names: string[] = [];
    const pattern = route.path
      .split("/")
      .map((seg) => (seg.startsWith(":") ? (names.push(seg.slice(1)), "([^/]+)") : seg.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")))
      .join("/");
    return { route, names, regex: new RegExp(`^${pattern}$`) };
  });
  return {
    match(method, path) {
      for (const c of compiled) {
        if (c.route.method !== method && !(method === "HEAD" && c.route.method === "GET")) continue;
        const m = c.regex.exec(path);
        if (!m) continue;
        const params: Record<string, string> = {};
        c.names.forEach((n, i) => (params[n] = decodeURIComponent(m[i + 1]!)));
        return { route: c.route, params };
      }
      return undefined;
    },
  };
}
