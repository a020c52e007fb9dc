import { AppError, invalidArgument } from "../core/errors.ts";
import type { MemoryContext } from "./context.ts";
import { checkFilter } from "./limits.ts";
import type { MemoryRow } from "./store.ts";
import type { Json, MemoryFilter } from "./types.ts";

export interface CompactionRequest {
  filter?: MemoryFilter;
  expire?: { expired: boolean; importanceBelow?: number; olderThanMs?: number };
  merge?: { similarityThreshold: number };
  cap?: { maxPerScope: number };
  decay?: { halfLifeMs: number; accessBoost: number };
  dryRun?: boolean;
}

export interface MergeGroup {
  survivorId: string;
  mergedIds: string[];
  minSimilarity: number;
}

export interface CompactionReport {
  dryRun: boolean;
  examined: number;
  expiredIds: string[];
  lowImportanceIds: string[];
  merges: MergeGroup[];
  overCapIds: string[];
  decayed: number;
  durationMs: number;
  /** Stopped early because the task was cancelled. */
  cancelled: boolean;
}

/** Validates a request and fills the default policy (expire by TTL, merge at 0.95) when none is set. */
export function checkCompaction(req: CompactionRequest): CompactionRequest {
  checkFilter(req.filter);
  const out = { ...req };
  if (!req.expire && !req.merge && !req.cap && !req.decay) {
    out.expire = { expired: true };
    out.merge = { similarityThreshold: 0.95 };
  }
  if (out.merge) {
    const t = out.merge.similarityThreshold || 0.95;
    if (!(t > 0 && t <= 1)) throw invalidArgument("merge.similarity_threshold", "must be between 0 and 1");
    out.merge = { similarityThreshold: t };
  }
  if (out.expire?.importanceBelow !== undefined && !(out.expire.importanceBelow >= 0 && out.expire.importanceBelow <= 1)) {
    throw invalidArgument("expire.importance_below", "must be between 0 and 1");
  }
  if (out.cap && !(Number.isInteger(out.cap.maxPerScope) && out.cap.maxPerScope >= 1)) throw invalidArgument("cap.max_per_scope", "must be at least 1");
  if (out.decay && !(out.decay.halfLifeMs > 0)) throw invalidArgument("decay.half_life", "must be positive");
  if (out.decay && !(out.decay.accessBoost >= 0 && out.decay.accessBoost <= 1)) throw invalidArgument("decay.access_boost", "must be between 0 and 1");
  return out;
}

const dot = (a: Float32Array, b: Float32Array) => {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]! * b[i]!;
  return s;
};

/** Survivor order: most important, then most accessed, then newest. */
const before = (a: MemoryRow, b: MemoryRow) => b.importance - a.importance || b.access_count - a.access_count || b.seq - a.seq;

/**
 * Candidate pairs of near-duplicates by random-hyperplane LSH (several tables of a few sign
 * bits): vectors at cosine ≥ 0.95 share a bucket in at least one table with high probability;
 * every candidate is then checked with the exact cosine.
 */
async function lshBuckets(items: { seq: number; v: Float32Array }[], dims: number, tick: () => Promise<void>): Promise<Map<number, Set<number>>> {
  const MAX_BUCKET = 32;
  const tables = 16;
  const bits = Math.max(1, Math.min(14, Math.round(Math.log2(Math.max(2, items.length / MAX_BUCKET)))));
  let seed = 12345;
  const rand = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32) * 2 - 1;
  const plane = () => Float32Array.from({ length: dims }, rand);
  // Hash the vectors centred on their mean: memories that share common words are all alike,
  // and uncentred hyperplanes would put them in a few huge buckets.
  const mean = new Float32Array(dims);
  for (const it of items) for (let d = 0; d < dims; d++) mean[d]! += it.v[d]! / items.length;
  const centred = items.map((it) => {
    const c = new Float32Array(dims);
    for (let d = 0; d < dims; d++) c[d] = it.v[d]! - mean[d]!;
    return c;
  });
  const neighbours = new Map<number, Set<number>>();
  const link = (list: number[]) => {
    for (const i of list) {
      const s = items[i]!.seq;
      let set = neighbours.get(s);
      if (!set) neighbours.set(s, (set = new Set()));
      for (const j of list) if (j !== i) set.add(items[j]!.seq);
    }
  };
  // Splits a bucket with more planes until it is small (or the depth runs out).
  const split = (list: number[], planes: Float32Array[], depth: number) => {
    const buckets = new Map<number, number[]>();
    for (const i of list) {
      let h = 0;
      for (let b = 0; b < planes.length; b++) if (dot(planes[b]!, centred[i]!) >= 0) h |= 1 << b;
      let l = buckets.get(h);
      if (!l) buckets.set(h, (l = []));
      l.push(i);
    }
    for (const l of buckets.values()) {
      if (l.length < 2) continue;
      if (l.length > MAX_BUCKET && depth < 10) split(l, [plane(), plane(), plane()], depth + 1);
      else for (let i = 0; i < l.length; i += 2 * MAX_BUCKET) link(l.slice(i, i + 2 * MAX_BUCKET));
    }
  };
  const all = items.map((_, i) => i);
  for (let t = 0; t < tables; t++) {
    split(all, Array.from({ length: bits }, plane), 0);
    await tick();
  }
  return neighbours;
}

/**
 * Compaction: expire, merge near-duplicates, cap per scope, decay. Planned from a snapshot,
 * applied one step at a time; every merge group is one write operation that re-reads its
 * rows, so a crash leaves each group either wholly merged or untouched.
 */
export function createCompaction(ctx: MemoryContext) {
  const { store, clock, database, vectors, embedder } = ctx;

  async function run(tenant: string, input: CompactionRequest, progress: (pct: number, msg: string) => Promise<boolean>): Promise<CompactionReport> {
    const req = checkCompaction(input);
    const started = clock.now();
    const now = started;
    const dry = !!req.dryRun;
    const report: CompactionReport = { dryRun: dry, examined: 0, expiredIds: [], lowImportanceIds: [], merges: [], overCapIds: [], decayed: 0, durationMs: 0, cancelled: false };
    let rows = await database.read((tx) => store.compactionRows(tx, tenant, req.filter ?? {}));
    report.examined = rows.length;
    const gone = new Set<number>();
    // Long planning still heartbeats (the lease) and notices a cancel.
    let lastBeat = Date.now();
    let cancelled = false;
    const tick = async (pct = 5, msg = "planning merges") => {
      if (Date.now() - lastBeat < 500) return;
      lastBeat = Date.now();
      if (await progress(pct, msg)) cancelled = true;
    };
    const deleteBatch = async (list: MemoryRow[]) => {
      if (dry || list.length === 0) return;
      for (let i = 0; i < list.length; i += 500) await ctx.remove(tenant, list.slice(i, i + 500).map((r) => r.seq));
    };

    // 1. expire
    if (req.expire) {
      const expired = req.expire.expired ? rows.filter((r) => r.expires_at !== null && r.expires_at <= now) : [];
      for (const r of expired) gone.add(r.seq);
      const below = req.expire.importanceBelow;
      const old = req.expire.olderThanMs;
      const low = below === undefined ? [] : rows.filter((r) => !gone.has(r.seq) && r.importance < below && (old === undefined || r.created_at <= now - old));
      for (const r of low) gone.add(r.seq);
      report.expiredIds = expired.map((r) => r.id);
      report.lowImportanceIds = low.map((r) => r.id);
      await deleteBatch([...expired, ...low]);
      if (await progress(10, `expired ${expired.length + low.length}`)) return finish(true);
    }
    rows = rows.filter((r) => !gone.has(r.seq) && (r.expires_at === null || r.expires_at > now));

    // 2. merge near-duplicates within (type, agent, scope)
    if (req.merge) {
      const threshold = req.merge.similarityThreshold;
      const groups = new Map<string, MemoryRow[]>();
      for (const r of rows) {
        const k = `${r.type}\u0000${r.agent_id}\u0000${r.scope}`;
        let g = groups.get(k);
        if (!g) groups.set(k, (g = []));
        g.push(r);
      }
      const plans: { survivor: MemoryRow; victims: MemoryRow[]; min: number }[] = [];
      for (const g of groups.values()) {
        if (g.length < 2) continue;
        g.sort(before);
        const vec = new Map<number, Float32Array>();
        for (const [i, r] of g.entries()) {
          if (r.embedding_state === 3 && r.embedding_model === embedder.model) {
            const v = await vectors.get(tenant, embedder.model, r.seq);
            if (v) vec.set(r.seq, v);
          }
          if (i % 1000 === 999) await tick();
        }
        if (cancelled) return finish(true);
        const dims = vec.size ? vec.values().next().value!.length : 0;
        const near = vec.size > 1 ? await lshBuckets([...vec].map(([seq, v]) => ({ seq, v })), dims, tick) : new Map<number, Set<number>>();
        if (cancelled) return finish(true);
        const byKey = new Map<string, MemoryRow[]>();
        for (const r of g) {
          let l = byKey.get(r.content_key);
          if (!l) byKey.set(r.content_key, (l = []));
          l.push(r);
        }
        const bySeq = new Map(g.map((r) => [r.seq, r]));
        const taken = new Set<number>();
        for (const s of g) {
          if (taken.has(s.seq)) continue;
          taken.add(s.seq);
          const victims: MemoryRow[] = [];
          let min = 1;
          for (const o of byKey.get(s.content_key)!) if (!taken.has(o.seq)) (taken.add(o.seq), victims.push(o));
          const sv = vec.get(s.seq);
          if (sv) {
            for (const oseq of near.get(s.seq) ?? []) {
              if (taken.has(oseq)) continue;
              const sim = dot(sv, vec.get(oseq)!);
              if (sim >= threshold) {
                taken.add(oseq);
                victims.push(bySeq.get(oseq)!);
                min = Math.min(min, sim);
              }
            }
          }
          if (victims.length) plans.push({ survivor: s, victims, min });
          if (plans.length % 1000 === 999) await tick();
        }
        if (cancelled) return finish(true);
      }
      let done = 0;
      // Groups go to the committer a few at a time: each is its own operation (own savepoint),
      // several share one durable commit.
      for (let i = 0; i < plans.length; i += 64) {
        const chunk = plans.slice(i, i + 64);
        const applied = dry ? chunk.map((p) => p) : (await Promise.all(chunk.map((p) => applyMerge(tenant, p.survivor, p.victims)))).map((ok, j) => (ok ? chunk[j]! : undefined));
        for (const p of applied) {
          if (!p) continue;
          report.merges.push({ survivorId: p.survivor.id, mergedIds: p.victims.map((v) => v.id), minSimilarity: p.min });
          for (const v of p.victims) gone.add(v.seq);
        }
        done += chunk.length;
        if (await progress(10 + Math.floor((70 * done) / plans.length), `merged ${done} of ${plans.length} groups`)) return finish(true);
      }
      rows = rows.filter((r) => !gone.has(r.seq));
    }

    // 3. cap per scope
    if (req.cap) {
      const byScope = new Map<string, MemoryRow[]>();
      for (const r of rows) {
        let l = byScope.get(r.scope);
        if (!l) byScope.set(r.scope, (l = []));
        l.push(r);
      }
      const over: MemoryRow[] = [];
      for (const l of byScope.values()) {
        if (l.length <= req.cap.maxPerScope) continue;
        l.sort((a, b) => b.importance - a.importance || b.seq - a.seq);
        over.push(...l.slice(req.cap.maxPerScope));
      }
      report.overCapIds = over.map((r) => r.id);
      for (const r of over) gone.add(r.seq);
      await deleteBatch(over);
      rows = rows.filter((r) => !gone.has(r.seq));
      if (await progress(90, `removed ${over.length} over the cap`)) return finish(true);
    }

    // 4. decay
    if (req.decay) {
      const { halfLifeMs, accessBoost } = req.decay;
      const changes = rows
        .map((r) => {
          const v = r.importance * 0.5 ** (Math.max(0, now - r.created_at) / halfLifeMs) + accessBoost * Math.log(1 + r.access_count);
          return { r, v: Math.round(Math.min(1, Math.max(0, v)) * 1e6) / 1e6 };
        })
        .filter((c) => Math.abs(c.v - c.r.importance) > 1e-6);
      report.decayed = changes.length;
      if (!dry) {
        for (let i = 0; i < changes.length; i += 500) {
          const part = changes.slice(i, i + 500);
          await database.write(function* (tx) {
            for (const c of part) yield* store.setImportance(tx, c.r.seq, c.v, clock.now());
          });
        }
      }
    }
    return finish(false);

    function finish(cancelled: boolean): CompactionReport {
      report.cancelled = cancelled;
      report.durationMs = clock.now() - started;
      return report;
    }
  }

  /** One merge group in one operation; false when the survivor is gone. */
  async function applyMerge(tenant: string, survivor: MemoryRow, victims: MemoryRow[]): Promise<boolean> {
    const seqs = victims.map((v) => v.seq);
    const ok = await database.write(function* (tx) {
      const rows = yield* store.bySeqs(tx, [survivor.seq, ...seqs]);
      const s = rows.find((r) => r.seq === survivor.seq);
      if (!s) return false;
      const vs = rows.filter((r) => r.seq !== survivor.seq);
      if (vs.length === 0) return false;
      const all = [s, ...vs];
      const tags = [...new Set(all.flatMap((r) => JSON.parse(r.tags) as string[]))].slice(0, 32);
      const metas = all.map((r) => (r.metadata ? (JSON.parse(r.metadata) as Record<string, Json>) : {}));
      // The survivor's metadata wins; the others' keys fill in what it lacks.
      const metadata = Object.assign({}, ...metas.slice(1).reverse(), metas[0]);
      const expires = all.some((r) => r.expires_at === null) ? null : Math.max(...all.map((r) => r.expires_at!));
      yield* store.mergeInto(
        tx,
        s.seq,
        {
          importance: Math.max(...all.map((r) => r.importance)),
          tags,
          expiresAt: expires,
          accessCount: all.reduce((n, r) => n + r.access_count, 0),
          lastAccessAt: Math.max(...all.map((r) => r.last_access_at)),
          mergedIds: [...(JSON.parse(s.merged_ids) as string[]), ...vs.map((v) => v.id)],
          metadata: Object.keys(metadata).length || s.metadata ? JSON.stringify(metadata) : null,
        },
        clock.now(),
      );
      yield* store.deleteSeqs(tx, vs.map((v) => v.seq));
      if (vectors.transactional) vectors.removeEverywhere(tenant, vs.map((v) => v.seq));
      return true;
    });
    if (ok && !vectors.transactional) await vectors.removeEverywhere(tenant, seqs);
    return ok;
  }

  return { run };
}

export const compactionInProgress = () =>
  new AppError("aborted", "COMPACTION_IN_PROGRESS", "another compaction of this tenant's memories is running; retry later");
