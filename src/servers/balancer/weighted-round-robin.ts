import type { Candidate } from "./candidate.ts";

/** Current weights of smooth weighted round robin, by server id. */
export interface WeightedState {
  current: Map<string, number>;
}

/**
 * Smooth weighted round robin (as nginx does it): every pick adds each candidate's weight to
 * its current weight, takes the highest, and takes the total off it. Weights 5:1:1 give
 * `a a b a c a a`, interleaved rather than in bursts, and exact shares over every cycle.
 */
export function pickWeightedRoundRobin(candidates: readonly Candidate[], state: WeightedState): number {
  let total = 0;
  let best = 0;
  let bestWeight = -Infinity;
  for (let i = 0; i < candidates.length; i++) {
    const c = candidates[i]!;
    const w = Math.max(1, c.weight);
    total += w;
    const cur = (state.current.get(c.id) ?? 0) + w;
    state.current.set(c.id, cur);
    if (cur > bestWeight) {
      bestWeight = cur;
      best = i;
    }
  }
  state.current.set(candidates[best]!.id, bestWeight - total);
  // Servers that left keep no stale credit: forget ids that were not candidates this time.
  if (state.current.size > candidates.length * 2) {
    const ids = new Set(candidates.map((c) => c.id));
    for (const id of state.current.keys()) if (!ids.has(id)) state.current.delete(id);
  }
  return best;
}
