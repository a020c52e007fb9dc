/** What an algorithm sees of an eligible server. */
export interface Candidate {
  id: string;
  activeTasks: number;
  maxConcurrent: number;
  /** Share under weighted round robin, at least 1. */
  weight: number;
}

/** active / max, the figure least-connections and power-of-two compare. */
export const loadOf = (c: Candidate): number => c.activeTasks / Math.max(1, c.maxConcurrent);

/** True when `a` is strictly less busy than `b`: lower load, then fewer active tasks. */
export const lessBusy = (a: Candidate, b: Candidate): boolean => {
  const la = loadOf(a);
  const lb = loadOf(b);
  return la < lb || (la === lb && a.activeTasks < b.activeTasks);
};
