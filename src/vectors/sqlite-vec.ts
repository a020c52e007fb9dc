import type { Database as Sqlite } from "bun:sqlite";
import type { VectorFilter, VectorHit, VectorIndex, VectorItem } from "./vector-index.ts";

export interface SqliteVecOptions {
  /**
   * `float`: exact kNN over float vectors (brute force). `bit`: kNN over 1-bit quantized
   * vectors (vec0 `bit[N]`, Hamming distance), then the `oversample × k` candidates re-ranked
   * by exact cosine on the float vectors, kept in a plain table beside it.
   */
  quantization?: "float" | "bit";
  /** Candidates per result re-ranked with `bit` (default 5; sqlite-vec's kNN slows steeply with k). */
  oversample?: number;
  /**
   * Runs the creation of a model's table (DDL and its row in memory_vector_models) as a write of
   * the database's group committer, so it is answered only once durable like every other write
   * (without it, autocommit statements on a synchronous=NORMAL connection). Default: directly.
   */
  write?: <T>(work: () => T) => Promise<T>;
}

/** vec0's largest k. */
const MAX_K = 4096;

/**
 * The extension's file, from the platform package the `sqlite-vec` package installs beside
 * itself (`sqlite-vec-<os>-<arch>/vec0.<so|dylib|dll>`). Resolved here rather than with the
 * package's own `load()`, whose `import.meta.resolve` keeps the production bundle from being
 * compiled to bytecode (see scripts/build-server.sh).
 */
export function sqliteVecPath(): string {
  const os = process.platform === "win32" ? "windows" : process.platform;
  const suffix = process.platform === "win32" ? "dll" : process.platform === "darwin" ? "dylib" : "so";
  try {
    return require.resolve(`sqlite-vec-${os}-${process.arch}/vec0.${suffix}`);
  } catch {
    throw new Error(`sqlite-vec has no build for ${process.platform}-${process.arch} here (package sqlite-vec-${os}-${process.arch} is not installed)`);
  }
}

/** Loads the sqlite-vec extension into a bun:sqlite connection (idempotent per connection). */
export function loadSqliteVec(sqlite: Sqlite): void {
  try {
    sqlite.query("SELECT vec_version()").get();
  } catch {
    sqlite.loadExtension(sqliteVecPath());
  }
}

const tableName = (model: string, dimensions: number) => `memory_vec_${model.toLowerCase().replace(/[^a-z0-9]+/g, "_").slice(0, 40)}_${dimensions}`;

/**
 * sqlite-vec `vec0` tables in the Switchyard SQLite file, one per model, partitioned by tenant
 * (a search scans one tenant's chunks only), with type, agent and scope as metadata columns.
 * Writes are synchronous and join the caller's transaction, so rows and vectors commit together.
 */
export function createSqliteVecIndex(sqlite: Sqlite, options: SqliteVecOptions = {}): VectorIndex {
  loadSqliteVec(sqlite);
  const quantization = options.quantization ?? "float";
  const oversample = options.oversample ?? 5;
  const write = options.write ?? (async <T>(work: () => T) => work());
  sqlite.exec(`CREATE TABLE IF NOT EXISTS memory_vector_models (model TEXT PRIMARY KEY, dimensions INTEGER NOT NULL, table_name TEXT NOT NULL, quantization TEXT NOT NULL)`);
  const tables = new Map<string, { name: string; dimensions: number; quantization: string }>();
  for (const r of sqlite.query(`SELECT model, dimensions, table_name, quantization FROM memory_vector_models`).all() as {
    model: string;
    dimensions: number;
    table_name: string;
    quantization: string;
  }[]) {
    tables.set(r.model, { name: r.table_name, dimensions: r.dimensions, quantization: r.quantization });
  }
  const table = (model: string) => {
    const t = tables.get(model);
    if (!t) throw new Error(`no vector table for model ${model}: ensure() it first`);
    return t;
  };
  const check = (t: { dimensions: number }, v: Float32Array) => {
    if (v.length !== t.dimensions) throw new Error(`vector of ${v.length} dimensions for an index of ${t.dimensions}`);
  };
  const drop = (t: { name: string; quantization: string }, seqs: number[]) => {
    const del = sqlite.query(`DELETE FROM ${t.name} WHERE seq = ?`);
    const delF = t.quantization === "bit" ? sqlite.query(`DELETE FROM ${t.name}_f WHERE seq = ?`) : undefined;
    for (const s of seqs) (del.run(s), delF?.run(s));
  };
  const bytes = (v: Float32Array) => new Uint8Array(v.buffer, v.byteOffset, v.byteLength);

  return {
    kind: "sqlite-vec",
    transactional: true,
    async ensure(model, dimensions) {
      const t = tables.get(model);
      if (t) {
        if (t.dimensions !== dimensions) throw new Error(`model ${model} already has ${t.dimensions}-dimension vectors, not ${dimensions}`);
        return;
      }
      const name = tableName(model, dimensions);
      // 1-bit quantization packs 8 dimensions per byte: other lengths stay exact.
      const q = quantization === "bit" && dimensions % 8 === 0 ? "bit" : "float";
      const column = q === "bit" ? `embedding_bit bit[${dimensions}]` : `embedding float[${dimensions}] distance_metric=cosine`;
      await write(() => {
        sqlite.exec(`CREATE VIRTUAL TABLE IF NOT EXISTS ${name} USING vec0(seq integer primary key, tenant text partition key, ${column}, type text, agent text, scope text)`);
        if (q === "bit") sqlite.exec(`CREATE TABLE IF NOT EXISTS ${name}_f (seq INTEGER PRIMARY KEY, tenant TEXT NOT NULL, embedding BLOB NOT NULL)`);
        sqlite.query(`INSERT OR IGNORE INTO memory_vector_models (model, dimensions, table_name, quantization) VALUES (?, ?, ?, ?)`).run(model, dimensions, name, q);
      });
      tables.set(model, { name, dimensions, quantization: q });
    },
    upsert(tenant, model, items: VectorItem[]) {
      const t = table(model);
      const bit = t.quantization === "bit";
      const del = sqlite.query(`DELETE FROM ${t.name} WHERE seq = ?`);
      const ins = bit
        ? sqlite.query(`INSERT INTO ${t.name} (seq, tenant, embedding_bit, type, agent, scope) VALUES (?, ?, vec_quantize_binary(?), ?, ?, ?)`)
        : sqlite.query(`INSERT INTO ${t.name} (seq, tenant, embedding, type, agent, scope) VALUES (?, ?, ?, ?, ?, ?)`);
      const floats = bit ? sqlite.query(`INSERT OR REPLACE INTO ${t.name}_f (seq, tenant, embedding) VALUES (?, ?, ?)`) : undefined;
      for (const it of items) {
        check(t, it.vector);
        del.run(it.seq);
        const b = bytes(it.vector);
        ins.run(it.seq, tenant, b, it.type, it.agentId, it.scope);
        floats?.run(it.seq, tenant, b);
      }
    },
    remove(_tenant, model, seqs) {
      const t = tables.get(model);
      if (!t) return;
      drop(t, seqs);
    },
    removeEverywhere(_tenant, seqs) {
      for (const t of tables.values()) drop(t, seqs);
    },
    async search(tenant, model, vector, k, filter: VectorFilter = {}) {
      const t = tables.get(model);
      if (!t) return [];
      check(t, vector);
      const where: string[] = ["tenant = ?"];
      const args: (string | number | Uint8Array)[] = [tenant];
      if (filter.type !== undefined) (where.push("type = ?"), args.push(filter.type));
      if (filter.agentId !== undefined) (where.push("agent = ?"), args.push(filter.agentId));
      if (filter.scope !== undefined) (where.push("scope = ?"), args.push(filter.scope));
      const b = bytes(vector);
      if (t.quantization === "bit") {
        const n = Math.min(MAX_K, k * oversample);
        const cands = sqlite
          .query(`SELECT seq FROM ${t.name} WHERE embedding_bit MATCH vec_quantize_binary(?) AND k = ${n} AND ${where.join(" AND ")}`)
          .all(b, ...args) as { seq: number }[];
        if (cands.length === 0) return [];
        const rows = sqlite
          .query(`SELECT seq, vec_distance_cosine(embedding, ?) AS d FROM ${t.name}_f WHERE seq IN (${cands.map((c) => c.seq).join(",")})`)
          .all(b) as { seq: number; d: number }[];
        rows.sort((x, y) => x.d - y.d);
        return rows.slice(0, k).map((r): VectorHit => ({ seq: r.seq, score: 1 - r.d }));
      }
      const rows = sqlite
        .query(`SELECT seq, distance FROM ${t.name} WHERE embedding MATCH ? AND k = ${Math.min(MAX_K, k)} AND ${where.join(" AND ")}`)
        .all(b, ...args) as { seq: number; distance: number }[];
      return rows.map((r) => ({ seq: r.seq, score: 1 - r.distance }));
    },
    async get(tenant, model, seq) {
      const t = tables.get(model);
      if (!t) return undefined;
      const r = sqlite.query(`SELECT embedding FROM ${t.name}${t.quantization === "bit" ? "_f" : ""} WHERE seq = ? AND tenant = ?`).get(seq, tenant) as { embedding: Uint8Array } | null;
      return r ? new Float32Array(r.embedding.slice().buffer) : undefined;
    },
    async close() {},
  };
}
