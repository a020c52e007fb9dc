// Summarises a `bun --cpu-prof` .cpuprofile by where samples land: each sample is attributed to
// its own frame's package (node_modules/<pkg>, Switchyard's src/<folder>, Bun's node: modules,
// native code under its nearest JavaScript caller's package). Samples longer than 5 ms are the
// loop waiting (idle) and are left out. `bun bench/profile-summary.ts <file.cpuprofile> [top]`.
import { readFileSync } from "node:fs";

interface Node {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface Profile {
  nodes: Node[];
  samples: number[];
  timeDeltas: number[];
}

function where(url: string): string | undefined {
  if (!url) return undefined;
  const nm = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (nm) return nm[1]!;
  const src = /\/(src|bench|gen)\/([^/]+)/.exec(url);
  if (src) return src[1] === "src" ? `switchyard ${src[2]!.replace(/\.ts$/, "")}` : src[1]!;
  if (url.startsWith("node:")) return `bun ${url.split(":")[1]!.split(/[:/]/)[0]}`;
  if (url.startsWith("internal:") || url.startsWith("bun:")) return `bun ${url}`.split(":").slice(0, 2).join(":");
  return url;
}

export function summarise(file: string, top = 12): { byPlace: [string, number][]; byFunction: [string, number][]; samples: number } {
  const p = JSON.parse(readFileSync(file, "utf8")) as Profile;
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const placeOf = new Map<number, string>();
  const resolve = (id: number): string => {
    const hit = placeOf.get(id);
    if (hit) return hit;
    const n = byId.get(id)!;
    const fn = n.callFrame.functionName;
    let place = where(n.callFrame.url);
    if (!place) {
      const up = parent.get(id);
      place = fn === "(idle)" || fn === "(program)" || fn === "(garbage collector)" ? fn : up === undefined ? "native" : `${resolve(up)}`;
    }
    placeOf.set(id, place);
    return place;
  };
  const places = new Map<string, number>();
  const functions = new Map<string, number>();
  let total = 0;
  for (let i = 0; i < p.samples.length; i++) {
    const delta = p.timeDeltas[i + 1] ?? 0;
    if (delta > 5000) continue; // the loop waiting
    const id = p.samples[i]!;
    const n = byId.get(id)!;
    if (n.callFrame.functionName === "(idle)") continue;
    const place = resolve(id);
    places.set(place, (places.get(place) ?? 0) + 1);
    const fn = `${n.callFrame.functionName || "(anonymous)"} (${place})`;
    functions.set(fn, (functions.get(fn) ?? 0) + 1);
    total++;
  }
  const sorted = (m: Map<string, number>) => [...m.entries()].sort((a, b) => b[1] - a[1]).slice(0, top);
  return { byPlace: sorted(places), byFunction: sorted(functions), samples: total };
}

if (import.meta.main) {
  const { byPlace, byFunction, samples } = summarise(process.argv[2]!, Number(process.argv[3] ?? 15));
  const pct = (n: number) => `${((100 * n) / samples).toFixed(1)} %`;
  console.log(`${samples} samples\n\n| share | where |\n|---:|---|`);
  for (const [k, v] of byPlace) console.log(`| ${pct(v)} | ${k} |`);
  console.log(`\n| share | function (self) |\n|---:|---|`);
  for (const [k, v] of byFunction) console.log(`| ${pct(v)} | ${k} |`);
}
