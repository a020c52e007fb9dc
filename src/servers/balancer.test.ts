import { describe, expect, it } from "bun:test";
import { lessBusy, loadOf, type Candidate } from "./balancer/candidate.ts";
import { pickLeastConnections } from "./balancer/least-connections.ts";
import { newBalancerState, pickWith } from "./balancer/pick.ts";
import { pickPowerOfTwo } from "./balancer/power-of-two.ts";
import { pickRoundRobin } from "./balancer/round-robin.ts";
import { pickWeightedRoundRobin } from "./balancer/weighted-round-robin.ts";

const PICKS = 10_000;
const servers = (weights: number[]): Candidate[] => weights.map((w, i) => ({ id: `s${i}`, activeTasks: 0, maxConcurrent: 10, weight: w }));

/** A seeded random source (mulberry32), so a failure can be replayed. */
function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const seededShared = seeded(99);

function counts(picks: number[], n: number): number[] {
  const c = new Array(n).fill(0);
  for (const p of picks) c[p]++;
  return c;
}

describe("load-balancing algorithms over 10,000 picks", () => {
  it("round robin gives every server exactly its turn, in order", () => {
    const c = servers([1, 1, 1, 1, 1, 1, 1]);
    const state = { turn: 0 };
    const picks = Array.from({ length: PICKS }, () => pickRoundRobin(c, state));
    for (let i = 0; i < picks.length; i++) expect(picks[i]).toBe(i % 7);
    const n = counts(picks, 7);
    expect(Math.max(...n) - Math.min(...n)).toBeLessThanOrEqual(1);
  });

  it("smooth weighted round robin interleaves 5:1:1 instead of bursting", () => {
    const c = servers([5, 1, 1]);
    const state = { current: new Map<string, number>() };
    const first = Array.from({ length: 7 }, () => pickWeightedRoundRobin(c, state));
    expect(first).toEqual([0, 0, 1, 0, 2, 0, 0]);
    // Every cycle of 7 holds each server exactly its weight, and b and c never come together.
    const picks = Array.from({ length: 7000 }, () => pickWeightedRoundRobin(c, state));
    for (let i = 0; i < picks.length; i += 7) expect(counts(picks.slice(i, i + 7), 3)).toEqual([5, 1, 1]);
    for (let i = 1; i < picks.length; i++) expect(picks[i - 1]! > 0 && picks[i]! > 0).toBe(false);
  });

  it("weighted round robin gives each server its weight's share within 1 %", () => {
    const weights = [5, 1, 1, 3, 10];
    const c = servers(weights);
    const state = newBalancerState();
    const n = counts(Array.from({ length: PICKS }, () => pickWith("weighted-round-robin", c, state, Math.random)), c.length);
    const total = weights.reduce((a, b) => a + b, 0);
    for (let i = 0; i < weights.length; i++) expect(Math.abs(n[i]! / PICKS - weights[i]! / total)).toBeLessThan(0.01);
  });

  it("least connections never picks a busier server while a less busy one is eligible", () => {
    const random = seeded(7);
    const c: Candidate[] = Array.from({ length: 12 }, (_, i) => ({ id: `s${i}`, activeTasks: 0, maxConcurrent: 2 + (i % 5) * 3, weight: 1 }));
    const state = { turn: 0 };
    for (let k = 0; k < PICKS; k++) {
      // Load moves both ways between picks: tasks start and finish.
      const j = Math.floor(random() * c.length);
      c[j]!.activeTasks = Math.max(0, c[j]!.activeTasks + (random() < 0.5 ? -1 : 1));
      const eligible = c.filter((s) => s.activeTasks < s.maxConcurrent);
      if (eligible.length === 0) continue;
      const chosen = eligible[pickLeastConnections(eligible, state)]!;
      for (const other of eligible) expect(lessBusy(other, chosen)).toBe(false);
      chosen.activeTasks++;
    }
  });

  it("least connections shares ties in turn", () => {
    const c = servers([1, 1, 1, 1]);
    const state = { turn: 0 };
    const n = counts(Array.from({ length: PICKS }, () => pickLeastConnections(c, state)), 4);
    expect(n).toEqual([2500, 2500, 2500, 2500]);
  });

  it("random spreads uniformly", () => {
    const c = servers([1, 1, 1, 1, 1]);
    const n = counts(Array.from({ length: PICKS }, () => pickWith("random", c, newBalancerState(), seededShared)), 5);
    for (const x of n) expect(Math.abs(x / PICKS - 0.2)).toBeLessThan(0.02);
  });

  it("power of two choices takes the less busy of two distinct draws", () => {
    const random = seeded(42);
    const c: Candidate[] = Array.from({ length: 10 }, (_, i) => ({ id: `s${i}`, activeTasks: i, maxConcurrent: 10, weight: 1 }));
    const n = counts(Array.from({ length: PICKS }, () => pickPowerOfTwo(c, random)), 10);
    // The busiest server is never picked (it loses every duel); the idlest wins every duel it is in.
    expect(n[9]).toBe(0);
    expect(n[0]! / PICKS).toBeGreaterThan(0.17);
    expect(n[0]!).toBeGreaterThan(n[5]!);
    // With loads updated as picks land, loads stay close.
    const live: Candidate[] = Array.from({ length: 10 }, (_, i) => ({ id: `s${i}`, activeTasks: 0, maxConcurrent: 1000, weight: 1 }));
    for (let k = 0; k < PICKS; k++) live[pickPowerOfTwo(live, random)]!.activeTasks++;
    const loads = live.map(loadOf);
    expect(Math.max(...loads) - Math.min(...loads)).toBeLessThan(0.01);
  });
});

