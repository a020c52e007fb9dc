import { lessBusy, type Candidate } from "./candidate.ts";

/** Ties are broken in turn, so equally idle servers share the work. */
export interface LeastConnectionsState {
  turn: number;
}

/** The least busy eligible server (lowest load, then fewest active tasks); never a busier one. */
export function pickLeastConnections(candidates: readonly Candidate[], state: LeastConnectionsState): number {
  const n = candidates.length;
  const start = state.turn++ % n;
  let best = start;
  for (let k = 1; k < n; k++) {
    const i = (start + k) % n;
    if (lessBusy(candidates[i]!, candidates[best]!)) best = i;
  }
  return best;
}
