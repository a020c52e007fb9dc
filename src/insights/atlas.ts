import { AppError, invalidArgument } from "../core/errors.ts";
import { newId } from "../core/ids.ts";
import type { Json } from "../tasks/types.ts";
import { loadManifest, readObject } from "../workspaces/blobs.ts";
import { sha256Hex } from "../workspaces/manifests.ts";
import { getProject } from "../workspaces/projects.ts";
import { checkShape, notFound, oneOf, page } from "./checks.ts";
import type { InsightsDomain, TaskKind } from "./context.ts";
import { awaitCall, startCall } from "./task-call.ts";
import type { Concept, Diagram, Edge } from "./types.ts";

export const DIAGRAM_TYPE = "atlas.diagram";
export const DIAGRAM_KINDS = ["flow", "dependency", "component", "sequence"] as const;
const MAX_CONCEPTS = 5000;
const MAX_EDGES = 20_000;
/** Source files read for imports (by size and count). */
const MAX_SOURCE_BYTES = 256 * 1024;
const MAX_SOURCES = 2000;
const SOURCE = /\.(m?[jt]sx?|cjs)$/;
const LAYER_ORDER = ["system", "module", "code", "decision"];

const conceptId = (projectId: string, key: string) => "concept_" + sha256Hex(`${projectId}\u0000${key}`).slice(0, 20);
const edgeId = (s: string, t: string, type: string) => "edge_" + sha256Hex(`${s}\u0000${t}\u0000${type}`).slice(0, 20);

/** Lower-case word tokens: split on non-alphanumerics and camelCase humps. */
export function tokens(text: string): string[] {
  return text
    .replace(/([a-z0-9])([A-Z])/g, "$1 $2")
    .toLowerCase()
    .split(/[^a-z0-9]+/)
    .filter((t) => t.length > 1);
}

/** Relative imports of a JS/TS source (`import … from "./x"`, `require("../y")`, `import("./z")`). */
function relativeImports(source: string): string[] {
  const out: string[] = [];
  for (const m of source.matchAll(/(?:from\s+|require\(\s*|import\(\s*|import\s+)["'](\.{1,2}\/[^"']+)["']/g)) out.push(m[1]!);
  return out;
}

function resolve(from: string, spec: string, files: Set<string>): string | undefined {
  const parts = from.split("/").slice(0, -1);
  for (const seg of spec.split("/")) {
    if (seg === "..") parts.pop();
    else if (seg !== ".") parts.push(seg);
  }
  const base = parts.join("/");
  const stripped = base.replace(/\.(m?js|cjs|jsx)$/, "");
  for (const c of [base, `${stripped}.ts`, `${stripped}.tsx`, `${stripped}.js`, `${stripped}.jsx`, `${stripped}.mjs`, `${base}/index.ts`, `${base}/index.js`]) if (files.has(c)) return c;
  return undefined;
}

/**
 * Rebuilds a project's Atlas from its latest snapshot's manifest, by Switchyard alone: top-level
 * directories are systems, deeper directories modules, files code concepts (`contains` edges
 * down the tree); `depends_on` edges from relative imports of JS/TS sources (file → file, weight
 * = share of the file's resolved imports); decisions are concepts linked (`decided_by`) to the
 * concepts whose name tokens they mention. At most 5000 concepts and 20000 edges (`truncated`).
 */
export async function indexAtlas(d: InsightsDomain, tenant: string, projectId: string, embed: boolean) {
  const project = getProject(d.workspaces, tenant, projectId);
  if (embed && !d.memory) throw new AppError("unavailable", "EMBEDDER_UNAVAILABLE", "no embedder is configured in this server (the memory domain is not part of this build)", { project_id: projectId });
  if (!project.lastSnapshotId) throw new AppError("failed_precondition", "NO_SNAPSHOT", "the project has no snapshot", { project_id: projectId });
  const snapshot = d.workspaces.store.getSnapshot(tenant, project.lastSnapshotId)!;
  const previous = d.store.atlasIndex(tenant, projectId);
  const decisions = d.store.listDecisions(tenant, projectId, 1000, 0);
  const decisionConcepts = d.store.concepts(tenant, projectId).filter((c) => c.layer === "decision").length;
  if (previous && previous.snapshotId === snapshot.id && decisionConcepts === decisions.length && (!embed || (await d.memory!.has(tenant, projectId)))) {
    return { conceptsCreated: previous.concepts, edgesCreated: previous.edges, snapshotId: snapshot.id, truncated: previous.truncated, chunksCreated: 0, embeddingsCreated: 0 };
  }
  const texts = new Map<string, string>();
  let files;
  try {
    files = (await loadManifest(d.workspaces, tenant, snapshot.manifestHash)).files;
  } catch {
    throw new AppError("failed_precondition", "MANIFEST_NOT_FOUND", `manifest ${snapshot.manifestHash} is not stored`, { manifest_hash: snapshot.manifestHash });
  }
  const now = d.clock.now();
  const concepts = new Map<string, Concept>();
  const edges = new Map<string, Edge>();
  let truncated = false;
  const addConcept = (c: Omit<Concept, "updatedAt">) => {
    if (concepts.has(c.id)) return true;
    if (concepts.size >= MAX_CONCEPTS) return !(truncated = true);
    concepts.set(c.id, { ...c, updatedAt: now });
    return true;
  };
  const addEdge = (sourceId: string, targetId: string, type: string, weight: number) => {
    const id = edgeId(sourceId, targetId, type);
    if (edges.has(id)) return;
    if (edges.size >= MAX_EDGES) return void (truncated = true);
    edges.set(id, { id, sourceId, targetId, type, weight });
  };
  const dirConcept = (dir: string): string => {
    const id = conceptId(projectId, `dir:${dir}`);
    if (concepts.has(id)) return id;
    const parts = dir.split("/");
    const parent = parts.length > 1 ? dirConcept(parts.slice(0, -1).join("/")) : "";
    const ok = addConcept({ id, name: parts.at(-1)!, description: parts.length === 1 ? `Top-level part ${dir}/` : `Directory ${dir}/`, layer: parts.length === 1 ? "system" : "module", path: dir, parentId: parent });
    if (ok && parent) addEdge(parent, id, "contains", 1);
    return id;
  };
  const rootId = conceptId(projectId, "dir:");
  addConcept({ id: rootId, name: project.name, description: `Files at the top of ${project.name}`, layer: "system", path: "", parentId: "" });
  const sorted = [...files].sort((a, b) => (a.path < b.path ? -1 : 1));
  for (const f of sorted) {
    const slash = f.path.lastIndexOf("/");
    const parent = slash > 0 ? dirConcept(f.path.slice(0, slash)) : rootId;
    const id = conceptId(projectId, `file:${f.path}`);
    if (addConcept({ id, name: f.path.slice(slash + 1), description: `File ${f.path} (${f.size} bytes)`, layer: "code", path: f.path, parentId: parent })) addEdge(parent, id, "contains", 1);
  }
  // Imports.
  const paths = new Set(files.map((f) => f.path));
  let read = 0;
  for (const f of sorted) {
    if (!SOURCE.test(f.path) || f.size > MAX_SOURCE_BYTES || read >= MAX_SOURCES) continue;
    read++;
    let text: string;
    try {
      text = new TextDecoder().decode(await readObject(d.workspaces, tenant, "blob", f.hash));
      texts.set(f.path, text);
    } catch {
      continue;
    }
    const targets = relativeImports(text).map((s) => resolve(f.path, s, paths)).filter((x): x is string => !!x && x !== f.path);
    const unique = [...new Set(targets)];
    for (const t of unique) {
      const s = conceptId(projectId, `file:${f.path}`);
      const tt = conceptId(projectId, `file:${t}`);
      if (concepts.has(s) && concepts.has(tt)) addEdge(s, tt, "depends_on", Math.round((1 / unique.length) * 1000) / 1000);
    }
  }
  // Decisions, linked to the concepts they mention.
  const byToken = new Map<string, string[]>();
  for (const c of concepts.values()) for (const t of tokens(c.name.replace(/\.[a-z0-9]+$/i, ""))) byToken.set(t, [...(byToken.get(t) ?? []), c.id]);
  for (const x of decisions) {
    const id = conceptId(projectId, `decision:${x.id}`);
    if (!addConcept({ id, name: x.title, description: x.decision, layer: "decision", path: "", parentId: "" })) break;
    const mentioned = new Set([...tokens(`${x.title} ${x.decision}`), ...x.concepts.flatMap(tokens)]);
    for (const t of mentioned) for (const c of (byToken.get(t) ?? []).slice(0, 20)) addEdge(c, id, "decided_by", 1);
  }
  await d.database.committer.run(() => d.store.replaceAtlas(tenant, projectId, { concepts: [...concepts.values()], edges: [...edges.values()], snapshotId: snapshot.id, truncated }, now));
  let chunksCreated = 0;
  let embeddingsCreated = 0;
  if (embed) {
    const chunks = chunksOf([...concepts.values()], texts);
    const r = await d.memory!.replace(tenant, projectId, chunks);
    if (r.embedded === 0 && r.error) throw new AppError("unavailable", "EMBEDDER_UNAVAILABLE", `the embedder failed: ${r.error}`, { project_id: projectId });
    chunksCreated = chunks.length;
    embeddingsCreated = r.embedded;
  } else if (d.memory && (await d.memory.has(tenant, projectId))) {
    // Chunks of an older index would describe other files: a plain re-index drops them (token search again).
    await d.memory.replace(tenant, projectId, []);
  }
  return { conceptsCreated: concepts.size, edgesCreated: edges.size, snapshotId: snapshot.id, truncated, chunksCreated, embeddingsCreated };
}

export function getAtlas(d: InsightsDomain, tenant: string, projectId: string): { concepts: Concept[]; edges: Edge[] } {
  getProject(d.workspaces, tenant, projectId);
  return { concepts: d.store.concepts(tenant, projectId), edges: d.store.edges(tenant, projectId) };
}

const CHUNK_CHARS = 1500;
const CHUNKS_PER_FILE = 4;
const MAX_CHUNKS = 4000;

/**
 * What is embedded: each concept's name, path and description, and for source files read while
 * indexing, their text in pieces of 1500 characters (at most 4 per file); at most 4000 chunks.
 */
function chunksOf(concepts: Concept[], texts: Map<string, string>): { conceptId: string; text: string }[] {
  const out: { conceptId: string; text: string }[] = [];
  for (const c of concepts) {
    if (out.length >= MAX_CHUNKS) break;
    out.push({ conceptId: c.id, text: `${c.name}\n${c.path}\n${c.description}`.slice(0, 4000) });
    const text = c.layer === "code" ? texts.get(c.path) : undefined;
    for (let i = 0; text && i < text.length && i < CHUNK_CHARS * CHUNKS_PER_FILE && out.length < MAX_CHUNKS; i += CHUNK_CHARS) {
      const piece = text.slice(i, i + CHUNK_CHARS);
      if (piece.trim()) out.push({ conceptId: c.id, text: `${c.path}\n${piece}` });
    }
  }
  return out;
}

/**
 * Search: when the project's chunks are embedded (`embed=true`), cosine kNN through the memory
 * domain's vector index (a concept scores its best chunk); else token matching.
 */
export async function searchAtlas(d: InsightsDomain, tenant: string, projectId: string, query: string, limit: number) {
  getProject(d.workspaces, tenant, projectId);
  if (!query.trim() || query.length > 1000) throw invalidArgument("query", "must be 1 to 1000 characters");
  if (limit < 0 || limit > 100) throw invalidArgument("limit", "must be between 0 and 100");
  if (!d.memory || !(await d.memory.has(tenant, projectId))) return searchTokens(d, tenant, projectId, query, limit);
  const byId = new Map(d.store.concepts(tenant, projectId).map((c) => [c.id, c]));
  const best = new Map<string, number>();
  for (const h of await d.memory.search(tenant, projectId, query, (limit || 10) * 4)) {
    if (byId.has(h.conceptId) && h.score > (best.get(h.conceptId) ?? 0)) best.set(h.conceptId, h.score);
  }
  return [...best.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, limit || 10)
    .map(([id, score]) => {
      const c = byId.get(id)!;
      return { id: c.id, name: c.name, description: c.description, layer: c.layer, score: Math.round(score * 1000) / 1000 };
    });
}

/** Token matching: the share of the query's tokens found in a concept's name, path and description (name matches count double). */
function searchTokens(d: InsightsDomain, tenant: string, projectId: string, query: string, limit: number) {
  const q = [...new Set(tokens(query))];
  if (q.length === 0) return [];
  const hits = d.store.concepts(tenant, projectId).map((c) => {
    const name = new Set(tokens(c.name));
    const rest = new Set(tokens(`${c.path} ${c.description}`));
    const score = q.reduce((s, t) => s + (name.has(t) ? 1 : rest.has(t) ? 0.5 : 0), 0) / q.length;
    return { c, score: Math.round(score * 1000) / 1000 };
  });
  return hits
    .filter((h) => h.score > 0)
    .sort((a, b) => b.score - a.score || LAYER_ORDER.indexOf(a.c.layer) - LAYER_ORDER.indexOf(b.c.layer) || (a.c.path < b.c.path ? -1 : 1))
    .slice(0, limit || 10)
    .map((h) => ({ id: h.c.id, name: h.c.name, description: h.c.description, layer: h.c.layer, score: h.score }));
}

/** `atlas.diagram`: result `{ title, nodes: [{ id, label, concept_id?, group? }], edges: [{ source, target, label? }] }`, edges between listed nodes. */
export function diagramKind(d: InsightsDomain): TaskKind {
  return {
    type: DIAGRAM_TYPE,
    check(r) {
      const p = checkShape(r, {
        title: "string",
        nodes: { list: { id: "string", label: "string", concept_id: { optional: "text" }, group: { optional: "text" } }, max: 500 },
        edges: { list: { source: "string", target: "string", label: { optional: "text" } }, max: 2000 },
      });
      if (p) return p;
      const x = r as { nodes: { id: string }[]; edges: { source: string; target: string }[] };
      const ids = new Set(x.nodes.map((n) => n.id));
      const bad = x.edges.find((e) => !ids.has(e.source) || !ids.has(e.target));
      return bad ? `edges: ${bad.source} → ${bad.target} names a node that is not in nodes` : undefined;
    },
    apply(tenant, call, result, now, _after, task) {
      const r = result as Pick<Diagram, "title" | "nodes" | "edges">;
      const p = task?.payload as { project_id: string; type: string; concept_id: string; diagram_id: string };
      d.store.insertDiagram(tenant, { id: p.diagram_id, projectId: p.project_id, conceptId: p.concept_id, type: p.type, title: r.title, nodes: r.nodes, edges: r.edges, taskId: call.taskId, createdAt: now });
      return { diagram_id: p.diagram_id };
    },
  };
}

/**
 * Asks a worker for a diagram: payload `{ diagram_id, project_id, type, concept_id, concepts:
 * [{ id, name, layer, path, parent_id }], edges: [{ source_id, target_id, type }] }` (the whole
 * graph, or the concept's neighbourhood; at most 300 concepts).
 */
export async function createDiagram(d: InsightsDomain, tenant: string, projectId: string, input: { type: string; conceptId?: string; requestId: string }): Promise<Diagram> {
  getProject(d.workspaces, tenant, projectId);
  oneOf("type", input.type, DIAGRAM_KINDS);
  const all = d.store.concepts(tenant, projectId);
  if (all.length === 0) throw new AppError("failed_precondition", "ATLAS_EMPTY", "index the Atlas first (POST /v1/projects/{id}/atlas/index)", { project_id: projectId });
  const edges = d.store.edges(tenant, projectId);
  let picked = all;
  if (input.conceptId) {
    if (!all.some((c) => c.id === input.conceptId)) throw notFound("CONCEPT_NOT_FOUND", "concept", input.conceptId);
    const near = new Set([input.conceptId]);
    for (const e of edges) if (e.sourceId === input.conceptId || e.targetId === input.conceptId) near.add(e.sourceId).add(e.targetId);
    for (const c of all) if (c.parentId === input.conceptId) near.add(c.id);
    picked = all.filter((c) => near.has(c.id));
  }
  picked = picked.slice(0, 300);
  const ids = new Set(picked.map((c) => c.id));
  const payload = {
    diagram_id: newId("diag"), project_id: projectId, type: input.type, concept_id: input.conceptId ?? "",
    concepts: picked.map((c) => ({ id: c.id, name: c.name, layer: c.layer, path: c.path, parent_id: c.parentId })),
    edges: edges.filter((e) => ids.has(e.sourceId) && ids.has(e.targetId)).map((e) => ({ source_id: e.sourceId, target_id: e.targetId, type: e.type })),
  } as unknown as Json;
  const { taskId } = await startCall(d, tenant, { type: DIAGRAM_TYPE, subject: projectId, payload, title: `${input.type} diagram`, requestId: input.requestId || undefined });
  await awaitCall(d, tenant, taskId);
  return d.store.diagramOfTask(tenant, taskId)!;
}

export function listDiagrams(d: InsightsDomain, tenant: string, projectId: string, pageSize: number, pageToken: string): { items: Diagram[]; next: string } {
  getProject(d.workspaces, tenant, projectId);
  const { limit, offset } = page(pageSize, pageToken, 50, 1000);
  const items = d.store.listDiagrams(tenant, projectId, limit + 1, offset);
  return { items: items.slice(0, limit), next: items.length > limit ? String(offset + limit) : "" };
}

/** Each decision's Atlas links (its `decided_by` edges), when the Atlas holds the decision. */
export function decisionLinks(d: InsightsDomain, tenant: string, projectId: string): Map<string, { conceptId: string; name: string; layer: string; score: number }[]> {
  const concepts = new Map(d.store.concepts(tenant, projectId).map((c) => [c.id, c]));
  const out = new Map<string, { conceptId: string; name: string; layer: string; score: number }[]>();
  const decisionOf = new Map(d.store.listDecisions(tenant, projectId, 1000, 0).map((x) => [conceptId(projectId, `decision:${x.id}`), x.id]));
  for (const e of d.store.edges(tenant, projectId)) {
    if (e.type !== "decided_by") continue;
    const decision = decisionOf.get(e.targetId);
    const c = concepts.get(e.sourceId);
    if (!decision || !c) continue;
    out.set(decision, [...(out.get(decision) ?? []), { conceptId: c.id, name: c.name, layer: c.layer, score: e.weight }]);
  }
  return out;
}
