import { loadManifest, readObject } from "../workspaces/blobs.ts";
import type { FileEntry } from "../workspaces/manifests.ts";
import type { InsightsDomain } from "./context.ts";
import type { Resource } from "./types.ts";

export interface Requirement {
  type: string;
  name: string;
  evidence: string[];
  satisfied: boolean;
}

export interface Detection {
  manifestHash: string;
  runtime: string;
  framework: string;
  buildCommand: string;
  startCommand: string;
  port: number;
  filesScanned: number;
  requirements: Requirement[];
}

/** Dependency names (substring of a package/module name) that need a resource. */
const NEEDS: { match: RegExp; type: string; name: string }[] = [
  { match: /^(pg|postgres|@prisma\/client|prisma|psycopg2?(-binary)?|asyncpg|github\.com\/lib\/pq|github\.com\/jackc\/pgx.*|@neondatabase\/serverless)$/i, type: "database", name: "postgres" },
  { match: /^(mysql2?|pymysql|mysqlclient|github\.com\/go-sql-driver\/mysql)$/i, type: "database", name: "mysql" },
  { match: /^(mongodb|mongoose|pymongo|go\.mongodb\.org\/mongo-driver)$/i, type: "database", name: "mongodb" },
  { match: /^(redis|ioredis|@upstash\/redis|github\.com\/redis\/go-redis.*|github\.com\/go-redis\/redis.*)$/i, type: "cache", name: "redis" },
];
const FRAMEWORKS: [string, string][] = [["next", "nextjs"], ["hono", "hono"], ["express", "express"], ["fastify", "fastify"], ["vite", "vite"], ["django", "django"], ["flask", "flask"], ["fastapi", "fastapi"], ["github.com/gin-gonic/gin", "gin"]];
const MAX_READ = 256 * 1024;

async function text(d: InsightsDomain, tenant: string, f: FileEntry | undefined): Promise<string> {
  if (!f || f.size > MAX_READ) return "";
  try {
    return new TextDecoder().decode(await readObject(d.workspaces, tenant, "blob", f.hash));
  } catch {
    return "";
  }
}

/**
 * What a project needs to run, from a manifest's files (by Switchyard, no worker): the runtime
 * and framework from `package.json`, `requirements.txt`/`pyproject.toml`, `go.mod` or a
 * `Dockerfile`; databases and caches from their dependencies; env vars from `.env.example`.
 * A need is satisfied by an existing resource of the same type and name.
 */
export async function detect(d: InsightsDomain, tenant: string, manifestHash: string, resources: Resource[], envKeys: Set<string>): Promise<Detection> {
  const files = (await loadManifest(d.workspaces, tenant, manifestHash)).files;
  const byPath = new Map(files.map((f) => [f.path, f]));
  const out: Detection = { manifestHash, runtime: "", framework: "", buildCommand: "", startCommand: "", port: 0, filesScanned: files.length, requirements: [] };
  const deps: { name: string; file: string }[] = [];
  const pkg = await text(d, tenant, byPath.get("package.json"));
  if (pkg) {
    out.runtime = byPath.has("bun.lockb") || byPath.has("bun.lock") ? "bun" : "node";
    out.port = 3000;
    try {
      const j = JSON.parse(pkg) as { scripts?: Record<string, string>; dependencies?: Record<string, string>; devDependencies?: Record<string, string> };
      const run = out.runtime === "bun" ? "bun run" : "npm run";
      if (j.scripts?.build) out.buildCommand = `${run} build`;
      if (j.scripts?.start) out.startCommand = `${run} start`;
      for (const name of Object.keys({ ...j.dependencies, ...j.devDependencies })) deps.push({ name, file: "package.json" });
    } catch {
      // not JSON: the runtime is all that is known
    }
  }
  const reqs = (await text(d, tenant, byPath.get("requirements.txt"))) + "\n" + (await text(d, tenant, byPath.get("pyproject.toml")));
  if (reqs.trim()) {
    out.runtime ||= "python";
    out.port ||= 8000;
    for (const line of reqs.split("\n")) {
      const m = /^\s*"?([A-Za-z0-9_.-]+)/.exec(line);
      if (m && !line.trim().startsWith("#")) deps.push({ name: m[1]!.toLowerCase(), file: byPath.has("requirements.txt") ? "requirements.txt" : "pyproject.toml" });
    }
  }
  const gomod = await text(d, tenant, byPath.get("go.mod"));
  if (gomod) {
    out.runtime ||= "go";
    out.port ||= 8080;
    out.buildCommand ||= "go build -o app .";
    out.startCommand ||= "./app";
    for (const m of gomod.matchAll(/^\s*(?:require\s+)?([a-z0-9.-]+\.[a-z]+\/[^\s]+)\s+v/gm)) deps.push({ name: m[1]!, file: "go.mod" });
  }
  const docker = await text(d, tenant, byPath.get("Dockerfile"));
  if (docker) {
    out.runtime ||= "docker";
    const expose = /^\s*EXPOSE\s+(\d+)/m.exec(docker);
    if (expose) out.port = Number(expose[1]);
  }
  for (const [dep, fw] of FRAMEWORKS) if (!out.framework && deps.some((x) => x.name === dep)) out.framework = fw;
  if (out.runtime) out.requirements.push({ type: "runtime", name: out.runtime, evidence: [...new Set(deps.map((x) => x.file))].concat(docker ? ["Dockerfile"] : []), satisfied: true });
  const needs = new Map<string, Requirement>();
  for (const dep of deps) {
    const n = NEEDS.find((x) => x.match.test(dep.name));
    if (!n) continue;
    const key = `${n.type}:${n.name}`;
    const r = needs.get(key) ?? { type: n.type, name: n.name, evidence: [], satisfied: resources.some((x) => x.type === n.type && x.name.endsWith(n.name) && x.status !== "failed") };
    r.evidence.push(`${dep.file}: ${dep.name}`);
    needs.set(key, r);
  }
  out.requirements.push(...needs.values());
  const env = await text(d, tenant, byPath.get(".env.example"));
  for (const m of env.matchAll(/^\s*([A-Z_][A-Z0-9_]*)\s*=/gm)) out.requirements.push({ type: "env_var", name: m[1]!, evidence: [".env.example"], satisfied: envKeys.has(m[1]!) || resources.some((r) => r.envVarKeys.includes(m[1]!)) });
  return out;
}
