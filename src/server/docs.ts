import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { ROOT } from "../core/paths.ts";
import type { LegacyFamily } from "./legacy/table.ts";

interface Operation {
  operationId: string;
  summary: string;
  tags: string[];
}

/**
 * The REST API document (`gen/openapi.json`, written by `buf generate` through
 * scripts/protoc-gen-openapi), the interactive page over it (Swagger UI, served at /docs and at
 * seed 003's /swagger/index.html, with a plain index of the operations for readers without
 * JavaScript), and the page's static assets.
 */
export interface ApiDocs {
  readonly json: string;
  readonly html: string;
  /** Swagger UI's files by request path (`/docs/assets/swagger-ui.css`): static, served open. */
  readonly assets: Map<string, { body: Uint8Array; contentType: string }>;
}

/** Paths that answer the interactive page. */
export const DOCS_PAGES = new Set(["/docs", "/docs/", "/swagger", "/swagger/", "/swagger/index.html"]);

const ASSETS: Record<string, string> = {
  "swagger-ui.css": "text/css; charset=utf-8",
  "swagger-ui-bundle.js": "text/javascript; charset=utf-8",
  "favicon-32x32.png": "image/png",
};

function loadAssets(): ApiDocs["assets"] {
  const assets: ApiDocs["assets"] = new Map();
  let dir: string;
  try {
    // Resolved from the root at runtime: a literal require.resolve is fixed at build time in the bundle.
    dir = dirname(Bun.resolveSync("swagger-ui-dist/package.json", ROOT));
  } catch {
    return assets;
  }
  for (const [name, contentType] of Object.entries(ASSETS)) {
    const file = join(dir, name);
    if (existsSync(file)) assets.set(`/docs/assets/${name}`, { body: readFileSync(file), contentType });
  }
  return assets;
}

const escape = (s: string) => s.replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c]!);

/**
 * The legacy routes as operations of the document, tagged as their replaced system tagged them
 * (seed 001: Tasks, Statistics…). Their bodies are the seeds' (docs/legacy-routes.md), not
 * described by schemas here; `x-legacy` names the family.
 */
function legacyOperations(families: LegacyFamily[]): Record<string, Record<string, Operation & Record<string, unknown>>> {
  const paths: Record<string, Record<string, Operation & Record<string, unknown>>> = {};
  for (const family of families) {
    for (const route of family.routes) {
      for (const { method, path } of [{ method: route.method, path: route.path }, ...(route.aliases ?? []).map((a) => ({ method: a.method ?? route.method, path: a.path }))]) {
        const openapiPath = path.replace(/:(\w+)/g, "{$1}");
        const names = [...path.matchAll(/:(\w+)/g)].map((m) => m[1]!);
        (paths[openapiPath] ??= {})[method.toLowerCase()] = {
          operationId: `${family.name}_${method}_${path}`.replace(/[^\w]+/g, "_"),
          tags: [family.docTag?.(route) ?? family.name],
          summary: "rpc" in route ? `${route.rpc.parent.name}.${route.rpc.name}, in the ${family.name} shape` : `a ${family.name} route that streams its own body`,
          "x-legacy": family.name,
          parameters: names.map((name) => ({ name, in: "path", required: true, schema: { type: "string" } })),
          responses: { "200": { description: "The seed's answer (docs/legacy-routes.md)", content: { "application/json": {} } } },
        };
      }
    }
  }
  return paths;
}

/**
 * The generated OpenAPI document with the legacy routes added; undefined when it has not been
 * generated. Built on first use (the first request for a docs path), not at start: the parsed
 * document and Swagger UI's files are megabytes a server that nobody browses never needs.
 */
export function loadApiDocs(path = join(ROOT, "gen", "openapi.json"), families: LegacyFamily[] = []): ApiDocs | undefined {
  if (!existsSync(path)) return undefined;
  let built: { json: string; html: string } | undefined;
  let assets: ApiDocs["assets"] | undefined;
  const docs = () => (built ??= buildDocs(path, families));
  return {
    get json() {
      return docs().json;
    },
    get html() {
      return docs().html;
    },
    get assets() {
      return (assets ??= loadAssets());
    },
  };
}

function buildDocs(path: string, families: LegacyFamily[]): { json: string; html: string } {
  const parsed = JSON.parse(readFileSync(path, "utf8")) as { info: { title: string; version: string }; paths: Record<string, Record<string, Operation>> };
  for (const [p, ops] of Object.entries(legacyOperations(families))) parsed.paths[p] = { ...ops, ...(parsed.paths[p] ?? {}) };
  const json = JSON.stringify(parsed);
  const doc = parsed;
  const byTag = new Map<string, string[]>();
  for (const [path, methods] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(methods)) {
      const row = `<tr><td><code>${method.toUpperCase()}</code></td><td><code>${escape(path)}</code></td><td>${escape(op.summary)}</td></tr>`;
      const tag = op.tags[0] ?? "other";
      byTag.set(tag, [...(byTag.get(tag) ?? []), row]);
    }
  }
  const sections = [...byTag.entries()]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([tag, rows]) => `<h2>${escape(tag)}</h2><table>${rows.join("")}</table>`)
    .join("\n");
  // Swagger UI reads /openapi.json with the page's credentials ("Authorize" adds the bearer
  // token to the calls it tries); the plain index stays for readers without JavaScript.
  const html = `<!doctype html><html><head><meta charset="utf-8"><title>${escape(doc.info.title)} API</title>
<link rel="stylesheet" href="/docs/assets/swagger-ui.css"><link rel="icon" href="/docs/assets/favicon-32x32.png">
<style>body{margin:0}.index{font-family:system-ui,sans-serif;margin:2rem;max-width:72rem}.index td{padding:.2rem .6rem;vertical-align:top}</style>
</head><body><div id="swagger-ui"></div>
<noscript><div class="index"><h1>${escape(doc.info.title)} ${escape(doc.info.version)} — REST API</h1>
<p>Every operation is also served over gRPC, gRPC-Web and Connect. Machine-readable: <a href="/openapi.json">/openapi.json</a>.</p>
${sections}</div></noscript>
<script src="/docs/assets/swagger-ui-bundle.js"></script>
<script>window.ui = SwaggerUIBundle({ url: "/openapi.json", dom_id: "#swagger-ui", deepLinking: true, tryItOutEnabled: true });</script>
</body></html>`;
  return { json, html };
}
