import { createHash } from "node:crypto";
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { extname, join, relative } from "node:path";
import type { NodeRequest, NodeResponse } from "./http-io.ts";

const TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".json": "application/json; charset=utf-8",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".ico": "image/x-icon",
  ".woff2": "font/woff2",
  ".txt": "text/plain; charset=utf-8",
  ".map": "application/json; charset=utf-8",
};

// The dashboard talks only to this origin; nothing inline, nothing framed.
const SECURITY = {
  "content-security-policy": "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
  "x-frame-options": "DENY",
};

interface Asset {
  body: Buffer;
  type: string;
  etag: string;
  immutable: boolean;
}

/** Serves a built single-page site (the dashboard) under a prefix, from memory. */
export interface StaticSite {
  readonly prefix: string;
  /** True when the site was found on disk. */
  readonly built: boolean;
  /** Answers a request under the prefix; false when the path is not the site's. */
  serve(req: NodeRequest, res: NodeResponse, url: URL): boolean;
}

/**
 * Loads every file of `root` once at startup (the build never runs on a request). Files under
 * `assets/` carry a content hash in their name and are cached for a year as immutable; the
 * index is revalidated on every load so a new deployment shows at once.
 */
export function createStaticSite(options: { root: string; prefix: string }): StaticSite {
  const { root, prefix } = options;
  const assets = new Map<string, Asset>();
  const built = existsSync(join(root, "index.html"));
  if (built) {
    const walk = (dir: string) => {
      for (const entry of readdirSync(dir, { withFileTypes: true })) {
        const path = join(dir, entry.name);
        if (entry.isDirectory()) walk(path);
        else if (statSync(path).size <= 16 * 1024 * 1024) {
          const body = readFileSync(path);
          const rel = "/" + relative(root, path).split("\\").join("/");
          assets.set(rel, {
            body,
            type: TYPES[extname(path)] ?? "application/octet-stream",
            etag: `"${createHash("sha256").update(body).digest("base64url").slice(0, 22)}"`,
            immutable: rel.startsWith("/assets/"),
          });
        }
      }
    };
    walk(root);
  }
  return {
    prefix,
    built,
    serve(req, res, url) {
      if (url.pathname !== prefix && !url.pathname.startsWith(prefix + "/")) return false;
      if (url.pathname === prefix) {
        res.writeHead(308, { location: prefix + "/" });
        res.end();
        return true;
      }
      if (req.method !== "GET" && req.method !== "HEAD") {
        res.writeHead(405, { allow: "GET, HEAD", "content-type": "text/plain; charset=utf-8" });
        res.end("method not allowed\n");
        return true;
      }
      if (!built) {
        res.writeHead(503, { "content-type": "text/plain; charset=utf-8", "cache-control": "no-store" });
        res.end("The dashboard is not built. Run `bash scripts/build-web.sh` (npm start does it), then restart.\n");
        return true;
      }
      const rel = url.pathname.slice(prefix.length) || "/";
      // Hash routing: every path that is not a file is the app itself.
      const asset = assets.get(rel === "/" ? "/index.html" : rel) ?? (rel.startsWith("/assets/") ? undefined : assets.get("/index.html"));
      if (!asset) {
        res.writeHead(404, { "content-type": "text/plain; charset=utf-8" });
        res.end("not found\n");
        return true;
      }
      const headers: Record<string, string> = {
        ...SECURITY,
        "content-type": asset.type,
        etag: asset.etag,
        "cache-control": asset.immutable ? "public, max-age=31536000, immutable" : "no-cache",
      };
      if (req.headers["if-none-match"] === asset.etag) {
        res.writeHead(304, headers);
        res.end();
        return true;
      }
      headers["content-length"] = String(asset.body.byteLength);
      res.writeHead(200, headers);
      res.end(req.method === "HEAD" ? undefined : asset.body);
      return true;
    },
  };
}
