import type { Clock } from "../core/clock.ts";
import { AppError, invalidArgument, notFound } from "../core/errors.ts";
import type { Database } from "../db/client.ts";
import type { OpDatabase } from "../db/dialect.ts";
import { createPgSettingsStore, createSqliteSettingsStore, type SettingRow } from "./settings-store.ts";

/** A runtime setting as the domain sees it; `value` is any JSON but null. */
export interface Setting {
  name: string;
  value: unknown;
  version: number;
  updatedAt: number;
}

export interface SettingsPage {
  settings: Setting[];
  nextPageToken: string;
}

/** Runtime settings (load-balancer algorithm, switches…), on SQLite or PostgreSQL. */
export interface Settings {
  get(name: string): Promise<Setting>;
  list(query: { pageSize: number; pageToken: string; names: string[]; prefix: string }): Promise<SettingsPage>;
  set(name: string, value: unknown, expectedVersion?: number): Promise<Setting>;
  delete(name: string): Promise<void>;
}

const NAME = /^[A-Za-z0-9._-]{1,128}$/;
const MAX_VALUE_BYTES = 64 * 1024;

function checkName(name: string): void {
  if (!NAME.test(name)) throw invalidArgument("name", "must be 1-128 characters of letters, digits, '.', '_' or '-'");
}

const toSetting = (r: SettingRow): Setting => ({ name: r.name, value: JSON.parse(r.value), version: r.version, updatedAt: r.updated_at });

/** Creates the settings domain over an opened database (SQLite or PostgreSQL). */
export function createSettings(database: OpDatabase & { sqlite?: unknown }, clock: Clock): Settings {
  const store = database.dialect === "sqlite" ? createSqliteSettingsStore((database as Database).sqlite) : createPgSettingsStore();
  return {
    async get(name) {
      checkName(name);
      const row = await database.read((tx) => store.find(tx, name));
      if (!row) throw notFound("SETTING_NOT_FOUND", `setting ${name} does not exist`, { name });
      return toSetting(row);
    },
    async list({ pageSize, pageToken, names, prefix }) {
      const size = pageSize === 0 ? 50 : pageSize;
      let after = "";
      if (pageToken !== "") {
        after = Buffer.from(pageToken, "base64url").toString();
        if (!after.startsWith("s:")) throw invalidArgument("page_token", "is not a token this server issued");
        after = after.slice(2);
      }
      const rows = await database.read((tx) => store.list(tx, { after, names, prefix, limit: size + 1 }));
      const page = rows.slice(0, size).map(toSetting);
      const next = rows.length > size ? Buffer.from(`s:${page[page.length - 1]!.name}`).toString("base64url") : "";
      return { settings: page, nextPageToken: next };
    },
    async set(name, value, expectedVersion) {
      checkName(name);
      if (value === null || value === undefined) throw invalidArgument("value", "is required");
      const json = JSON.stringify(value);
      if (json.length > MAX_VALUE_BYTES) throw invalidArgument("value", `is larger than ${MAX_VALUE_BYTES} bytes`);
      return database.write(function* (tx) {
        const current = yield* store.find(tx, name);
        const version = current?.version ?? 0;
        if (expectedVersion !== undefined && expectedVersion !== version) {
          throw new AppError("aborted", "VERSION_MISMATCH", `setting ${name} is at version ${version}, not ${expectedVersion}`, {
            name,
            version: String(version),
          });
        }
        const row: SettingRow = { name, value: json, updated_at: clock.now(), version: version + 1 };
        yield* store.upsert(tx, row);
        return toSetting(row);
      });
    },
    async delete(name) {
      checkName(name);
      await database.write(function* (tx) {
        if ((yield* store.remove(tx, name)) === 0) throw notFound("SETTING_NOT_FOUND", `setting ${name} does not exist`, { name });
      });
    },
  };
}
