import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";

interface Operation {
  operationId: string;
  summary: string;
  tags: string[];
}

/** The REST API document (`gen/openapi.json`, written by `buf generate` through scripts/protoc-gen-openapi) and an HTML index of it. */
export interface ApiDocs {
  json: string;
  html: string;
}

const escape = (s: string) => s.replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c]!);

/** Loads the generated OpenAPI document; undefined when it has not been generated. */
export function loadApiDocs(path = join(import.meta.dir, "..", "..", "gen", "openapi.json")): ApiDocs | undefined {
  if (!existsSync(path)) return undefined;
  const json = readFileSync(path, "utf8");
  const doc = JSON.parse(json) as { info: { title: string; version: string }; paths: Record<string, Record<string, Operation>> };
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
  const html = `<!doctype html><html><head><meta charset="utf-8"><title>${escape(doc.info.title)} API</title>
<style>body{font-family:system-ui,sans-serif;margin:2rem;max-width:72rem}td{padding:.2rem .6rem;vertical-align:top}code{font-size:.9em}</style>
</head><body><h1>${escape(doc.info.title)} ${escape(doc.info.version)} — REST API</h1>
<p>Every operation is also served over gRPC, gRPC-Web and Connect. Machine-readable: <a href="/openapi.json">/openapi.json</a>.</p>
${sections}</body></html>`;
  return { json, html };
}
