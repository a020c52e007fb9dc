import type { Candidate } from "./candidate.ts";

/** A uniformly random eligible server; `random` returns [0, 1). */
export function pickRandom(candidates: readonly Candidate[], random: () => number): number {
  return Math.min(candidates.length - 1, Math.floor(random() * candidates.length));
}
