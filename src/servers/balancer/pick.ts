import type { Algorithm } from "../types.ts";
import type { Candidate } from "./candidate.ts";
import { pickLeastConnections, type LeastConnectionsState } from "./least-connections.ts";
import { pickPowerOfTwo } from "./power-of-two.ts";
import { pickRandom } from "./random.ts";
import { pickRoundRobin, type RoundRobinState } from "./round-robin.ts";
import { pickWeightedRoundRobin, type WeightedState } from "./weighted-round-robin.ts";

/** The memory of the stateful algorithms for one pool of servers (a tenant and group). */
export interface BalancerState {
  roundRobin: RoundRobinState;
  leastConnections: LeastConnectionsState;
  weighted: WeightedState;
}

export const newBalancerState = (): BalancerState => ({ roundRobin: { turn: 0 }, leastConnections: { turn: 0 }, weighted: { current: new Map() } });

/** Picks among eligible candidates (never empty) with the algorithm; answers the index. */
export function pickWith(algorithm: Algorithm, candidates: readonly Candidate[], state: BalancerState, random: () => number): number {
  switch (algorithm) {
    case "round-robin":
      return pickRoundRobin(candidates, state.roundRobin);
    case "least-connections":
      return pickLeastConnections(candidates, state.leastConnections);
    case "weighted-round-robin":
      return pickWeightedRoundRobin(candidates, state.weighted);
    case "random":
      return pickRandom(candidates, random);
    case "power-of-two-choices":
      return pickPowerOfTwo(candidates, random);
  }
}
