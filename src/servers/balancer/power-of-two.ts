import { lessBusy, type Candidate } from "./candidate.ts";

/**
 * Power of two choices: two distinct eligible servers at random, the less busy of the two.
 * Nearly as even as least-connections, without scanning every server or herding onto one.
 */
export function pickPowerOfTwo(candidates: readonly Candidate[], random: () => number): number {
  const n = candidates.length;
  if (n === 1) return 0;
  const a = Math.min(n - 1, Math.floor(random() * n));
  let b = Math.min(n - 2, Math.floor(random() * (n - 1)));
  if (b >= a) b++;
  return lessBusy(candidates[b]!, candidates[a]!) ? b : a;
}
