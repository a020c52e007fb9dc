import { merge as diff3 } from "node-diff3";
import type { FileEntry, FileMap } from "./manifests.ts";
import { sha256Hex } from "./manifests.ts";

/** A change the merge applies by itself. */
export interface AutoAction {
  path: string;
  /** "add", "update", "delete" (taken from the source), or "merge" (both sides, merged cleanly). */
  action: "add" | "update" | "delete" | "merge";
  /** The resulting file; undefined for a delete. */
  result?: FileEntry;
  reason: string;
}

/** One way to settle a conflict. */
export interface DecisionOption {
  /** `combined`: a version an agent worker wrote (see conflict-advisor.ts). */
  id: "ours" | "theirs" | "merged" | "combined";
  label: string;
  description: string;
  /** The resulting file; undefined when this option deletes the path. */
  result?: FileEntry;
}

/** A path changed on both sides that the merge cannot settle. */
export interface Decision {
  path: string;
  reason: string;
  options: DecisionOption[];
  recommended: DecisionOption["id"];
}

export interface MergePlan {
  autoActions: AutoAction[];
  decisions: Decision[];
  /** Paths whose result is ours as it is. */
  unchanged: string[];
  /** Merged texts (clean merges and conflict-marker versions) to store before the plan is used. */
  newBlobs: Map<string, Uint8Array>;
}

/** Text files above this size are not merged line by line (they become decisions). */
export const MAX_MERGE_TEXT_BYTES = 1024 * 1024;

/** Reads a file's content when it is text (UTF-8, no NUL, small enough); undefined otherwise. */
export type TextLoader = (file: FileEntry) => Promise<string | undefined>;

const same = (a: FileEntry | undefined, b: FileEntry | undefined) => (a === undefined ? b === undefined : b !== undefined && a.hash === b.hash);

/**
 * Three-way merge of file trees: `ours` (the workspace), `theirs` (the source) and their merge
 * base. A path changed on one side only takes that side; changed identically on both, nothing;
 * changed differently on both, text files are merged line-wise with diff3 (node-diff3) and a
 * clean result is an auto action, while a true conflict (or a binary, a delete against an edit)
 * is a decision with options ours, theirs and — for text — the merged text with conflict markers.
 */
export async function planMerge(base: FileMap, ours: FileMap, theirs: FileMap, loadText: TextLoader): Promise<MergePlan> {
  const plan: MergePlan = { autoActions: [], decisions: [], unchanged: [], newBlobs: new Map() };
  const paths = new Set<string>([...base.keys(), ...ours.keys(), ...theirs.keys()]);
  for (const path of [...paths].sort()) {
    const b = base.get(path);
    const o = ours.get(path);
    const t = theirs.get(path);
    if (same(o, t) || same(t, b)) {
      plan.unchanged.push(path);
      continue;
    }
    if (same(o, b)) {
      plan.autoActions.push({
        path,
        action: t === undefined ? "delete" : o === undefined ? "add" : "update",
        result: t,
        reason: "changed only in the source",
      });
      continue;
    }
    // Changed differently on both sides.
    if (o && t) {
      const [ot, tt, bt] = await Promise.all([loadText(o), loadText(t), b ? loadText(b) : Promise.resolve("")]);
      if (ot !== undefined && tt !== undefined && bt !== undefined) {
        const merged = mergeText(ot, bt, tt);
        const bytes = new TextEncoder().encode(merged.text);
        const file: FileEntry = { path, hash: sha256Hex(bytes), size: bytes.byteLength, mode: o.mode };
        plan.newBlobs.set(file.hash, bytes);
        if (!merged.conflict) {
          plan.autoActions.push({ path, action: "merge", result: file, reason: "changed on both sides in different lines; merged" });
          continue;
        }
        plan.decisions.push({
          path,
          reason: "changed on both sides in the same lines",
          options: [option("ours", o), option("theirs", t), { id: "merged", label: "Merged with conflict markers", description: "both versions, conflicting lines between <<<<<<< and >>>>>>>", result: file }],
          recommended: "merged",
        });
        continue;
      }
    }
    plan.decisions.push({
      path,
      reason: !o ? "deleted in the workspace, changed in the source" : !t ? "changed in the workspace, deleted in the source" : "binary or large file changed on both sides",
      options: [option("ours", o), option("theirs", t)],
      recommended: "ours",
    });
  }
  return plan;
}

function option(id: "ours" | "theirs", file: FileEntry | undefined): DecisionOption {
  const side = id === "ours" ? "the workspace's" : "the source's";
  return { id, label: id === "ours" ? "Keep workspace version" : "Take source version", description: file ? `keep ${side} version` : `delete the file, as ${side} side did`, result: file };
}

/** Line-wise diff3 of `ours` and `theirs` against `base`. */
export function mergeText(ours: string, base: string, theirs: string): { text: string; conflict: boolean } {
  const result = diff3(ours.split("\n"), base.split("\n"), theirs.split("\n"), { label: { a: "workspace", o: "base", b: "source" } });
  return { text: (result.result as string[]).join("\n"), conflict: result.conflict as boolean };
}

/** Whether bytes are text the merge reads line by line. */
export function asText(bytes: Uint8Array): string | undefined {
  if (bytes.byteLength > MAX_MERGE_TEXT_BYTES || bytes.includes(0)) return undefined;
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    return undefined;
  }
}

/** Applies a plan and chosen options to ours: the merged file tree. */
export function applyPlan(ours: FileMap, plan: Pick<MergePlan, "autoActions" | "decisions">, choices: Record<string, string>): FileMap {
  const out = new Map(ours);
  const put = (path: string, f: FileEntry | undefined) => (f ? out.set(path, { ...f, path }) : out.delete(path));
  for (const a of plan.autoActions) put(a.path, a.result);
  for (const d of plan.decisions) {
    const chosen = d.options.find((o) => o.id === (choices[d.path] ?? d.recommended));
    put(d.path, chosen!.result);
  }
  return out;
}
