import type { Database as Sqlite } from "bun:sqlite";
import { intColumns, type PgTx, type Tx } from "../db/dialect.ts";
import { done, step, type Op } from "../db/op.ts";

/** A `system_settings` row. */
export interface SettingRow {
  name: string;
  value: string;
  version: number;
  updated_at: number;
}

/** All SQL of the settings domain, once per dialect, behind one interface of operations. */
export interface SettingsStore {
  find(tx: Tx, name: string): Op<SettingRow | undefined>;
  /** Rows after `after` in name order, optionally only `names` and/or names starting with `prefix`. */
  list(tx: Tx, q: { after: string; names: string[]; prefix: string; limit: number }): Op<SettingRow[]>;
  upsert(tx: Tx, row: SettingRow): Op<void>;
  /** Rows deleted (0 or 1). */
  remove(tx: Tx, name: string): Op<number>;
}

const likePrefix = (prefix: string) => `${prefix.replace(/[%_\\]/g, "\\$&")}%`;

export function createSqliteSettingsStore(sqlite: Sqlite): SettingsStore {
  const find = sqlite.prepare(`SELECT name, value, version, updated_at FROM system_settings WHERE name = ?`);
  const upsert = sqlite.prepare(`INSERT INTO system_settings (name, value, version, updated_at) VALUES (?1, ?2, ?3, ?4)
    ON CONFLICT (name) DO UPDATE SET value = ?2, version = ?3, updated_at = ?4`);
  const remove = sqlite.prepare(`DELETE FROM system_settings WHERE name = ?`);
  return {
    find: (_tx, name) => done((find.get(name) as SettingRow | null) ?? undefined),
    list(_tx, { after, names, prefix, limit }) {
      const where = ["name > ?"];
      const args: (string | number)[] = [after];
      if (names.length) (where.push(`name IN (${names.map(() => "?").join(",")})`), args.push(...names));
      if (prefix) (where.push(`name LIKE ? ESCAPE '\\'`), args.push(likePrefix(prefix)));
      const sql = `SELECT name, value, version, updated_at FROM system_settings WHERE ${where.join(" AND ")} ORDER BY name LIMIT ${Number(limit)}`;
      return done(sqlite.prepare(sql).all(...args) as SettingRow[]);
    },
    upsert(_tx, r) {
      upsert.run(r.name, r.value, r.version, r.updated_at);
      return done(undefined);
    },
    remove: (_tx, name) => done(remove.run(name).changes),
  };
}

const INTS = ["updated_at"] as const;

export function createPgSettingsStore(): SettingsStore {
  const pg = (tx: Tx) => (tx as PgTx).sql;
  return {
    *find(tx, name) {
      const rows = yield* step(pg(tx)<SettingRow[]>`SELECT name, value, version, updated_at FROM system_settings WHERE name = ${name}`);
      return intColumns(rows, INTS)[0];
    },
    *list(tx, { after, names, prefix, limit }) {
      const where = [`name COLLATE "C" > $1`];
      const args: unknown[] = [after];
      // `name = ANY($n)` with a text[] parameter, `LIKE $n` escaped as on SQLite.
      if (names.length) (args.push(names), where.push(`name = ANY($${args.length}::text[])`));
      if (prefix) (args.push(likePrefix(prefix)), where.push(`name LIKE $${args.length} ESCAPE '\\'`));
      const sql = `SELECT name, value, version, updated_at FROM system_settings WHERE ${where.join(" AND ")} ORDER BY name COLLATE "C" LIMIT ${Number(limit)}`;
      return intColumns((yield* step(pg(tx).unsafe(sql, args))) as SettingRow[], INTS);
    },
    *upsert(tx, r) {
      yield* step(pg(tx)`INSERT INTO system_settings (name, value, version, updated_at) VALUES (${r.name}, ${r.value}, ${r.version}, ${r.updated_at})
        ON CONFLICT (name) DO UPDATE SET value = excluded.value, version = excluded.version, updated_at = excluded.updated_at`);
    },
    *remove(tx, name) {
      const rows = (yield* step(pg(tx)`DELETE FROM system_settings WHERE name = ${name} RETURNING name`)) as unknown[];
      return rows.length;
    },
  };
}
