import { afterAll, describe, expect, it } from "bun:test";
import fc from "fast-check";
import { fileMap, sha256Hex, type FileEntry, type FileMap } from "./manifests.ts";
import { applyPlan, asText, planMerge } from "./merge.ts";
import { createSnapshot } from "./snapshots.ts";
import { executeSync, prepareSync, undoSync } from "./sync.ts";
import { describeDialects } from "../testing/dialects.ts";
import { storeTree, testDomain } from "./testing.ts";
import { createProject } from "./projects.ts";
import { createWorkspace, getWorkspace, manifestOf, updateCurrentManifest } from "./workspaces.ts";

const PATHS = ["a.txt", "b.txt", "d/c.txt", "bin.dat"];
const line = fc.constantFrom("x", "y", "z", "w");
/** A tree: each path absent or a text of 0–6 lines (bin.dat holds a NUL, so it is binary). */
const tree = fc.record(Object.fromEntries(PATHS.map((p) => [p, fc.option(fc.array(line, { maxLength: 6 }).map((ls) => (p === "bin.dat" ? "\0" : "") + ls.join("\n")), { nil: undefined })])) as Record<string, fc.Arbitrary<string | undefined>>);

type Tree = Record<string, string | undefined>;
const texts = new Map<string, string>();
function toMap(t: Tree): FileMap {
  const files: FileEntry[] = [];
  for (const [path, text] of Object.entries(t)) {
    if (text === undefined) continue;
    const hash = sha256Hex(text);
    texts.set(hash, text);
    files.push({ path, hash, size: text.length, mode: 0o644 });
  }
  return fileMap({ version: "1", files });
}
const load = async (f: FileEntry) => asText(new TextEncoder().encode(texts.get(f.hash)!));
const hashes = (m: FileMap) => Object.fromEntries([...m].map(([p, f]) => [p, f.hash]));

describe("three-way merge (properties)", () => {
  it("merging a tree with itself, or with an unchanged source, changes nothing", async () => {
    await fc.assert(
      fc.asyncProperty(tree, tree, async (b, o) => {
        const base = toMap(b), ours = toMap(o);
        for (const theirs of [ours, base]) {
          const plan = await planMerge(base, ours, theirs, load);
          expect(plan.autoActions).toEqual([]);
          expect(plan.decisions).toEqual([]);
          expect(hashes(applyPlan(ours, plan, {}))).toEqual(hashes(ours));
        }
      }),
      { numRuns: 200 },
    );
  });

  it("accounts for every path of the base and both sides exactly once", async () => {
    await fc.assert(
      fc.asyncProperty(tree, tree, tree, async (b, o, t) => {
        const base = toMap(b), ours = toMap(o), theirs = toMap(t);
        const plan = await planMerge(base, ours, theirs, load);
        const listed = [...plan.autoActions.map((a) => a.path), ...plan.decisions.map((x) => x.path), ...plan.unchanged];
        expect(new Set(listed).size).toBe(listed.length);
        expect(listed.sort()).toEqual([...new Set([...base.keys(), ...ours.keys(), ...theirs.keys()])].sort());
      }),
      { numRuns: 300 },
    );
  });

  it("is symmetric up to ours/theirs: same conflicts, and the same tree when each side picks the same version", async () => {
    await fc.assert(
      fc.asyncProperty(tree, tree, tree, fc.boolean(), async (b, o, t, pickFirst) => {
        const base = toMap(b), ours = toMap(o), theirs = toMap(t);
        const forward = await planMerge(base, ours, theirs, load);
        const backward = await planMerge(base, theirs, ours, load);
        expect(forward.decisions.map((x) => x.path)).toEqual(backward.decisions.map((x) => x.path));
        const choose = (plan: typeof forward, side: "ours" | "theirs") => Object.fromEntries(plan.decisions.map((x) => [x.path, side]));
        // "ours" going forward is "theirs" going backward.
        const f = applyPlan(ours, forward, choose(forward, pickFirst ? "ours" : "theirs"));
        const r = applyPlan(theirs, backward, choose(backward, pickFirst ? "theirs" : "ours"));
        expect(hashes(f)).toEqual(hashes(r));
      }),
      { numRuns: 300 },
    );
  });
});

describeDialects("sync execute then undo (property, over the real domain)", (open, dialect) => {
  let env: Awaited<ReturnType<typeof testDomain>> | undefined;
  afterAll(async () => env?.close());

  it("restores the workspace's manifest exactly", async () => {
    env = await testDomain({ database: await open() });
    const { d } = env;
    let n = 0;
    await fc.assert(
      fc.asyncProperty(tree, tree, tree, fc.boolean(), fc.constantFrom("ours", "theirs", "merged"), async (b, o, t, dirty, pick) => {
        const tenant = `t${n++}`;
        const clean = (x: Tree) => Object.fromEntries(Object.entries(x).filter(([, v]) => v !== undefined)) as Record<string, string>;
        const p = await createProject(d, tenant, "u", { name: "p", requestId: "" });
        const main = await createWorkspace(d, tenant, { projectId: p.id, name: "main", requestId: "" });
        await createSnapshot(d, tenant, { projectId: p.id, manifestHash: await storeTree(d, tenant, clean(b)), snapshotId: "base", parents: [], workspaceId: main.id });
        const feature = await createWorkspace(d, tenant, { projectId: p.id, name: "f", baseSnapshotId: "base", requestId: "" });
        await createSnapshot(d, tenant, { projectId: p.id, manifestHash: await storeTree(d, tenant, clean(t)), parents: ["base"], workspaceId: main.id });
        const oursHash = await storeTree(d, tenant, clean(o));
        if (dirty) await updateCurrentManifest(d, tenant, feature.id, oursHash, undefined);
        else await createSnapshot(d, tenant, { projectId: p.id, manifestHash: oursHash, parents: ["base"], workspaceId: feature.id });
        const before = await getWorkspace(d, tenant, feature.id);
        const beforeManifest = await manifestOf(d, before, true);
        const preview = await prepareSync(d, tenant, feature.id);
        const choices = Object.fromEntries(preview.decisions.map((x) => [x.path, x.options.some((opt) => opt.id === pick) ? pick : "ours"]));
        await executeSync(d, tenant, feature.id, { previewId: preview.id, decisions: choices });
        await undoSync(d, tenant, feature.id);
        const after = await getWorkspace(d, tenant, feature.id);
        expect(await manifestOf(d, after, true)).toBe(beforeManifest);
        expect(after.currentManifestHash).toBe(before.currentManifestHash);
      }),
      // Fewer runs on PostgreSQL (each is a dozen round trips of group commits).
      { numRuns: dialect === "sqlite" ? 25 : 10 },
    );
  }, 60_000);
});
