import type { Candidate } from "./candidate.ts";

/** Where round robin stands: the next turn. */
export interface RoundRobinState {
  turn: number;
}

/** Eligible servers in turn: the index into `candidates` (never empty) of the one picked. */
export function pickRoundRobin(candidates: readonly Candidate[], state: RoundRobinState): number {
  const i = state.turn % candidates.length;
  state.turn = (state.turn + 1) % Number.MAX_SAFE_INTEGER;
  return i;
}
