import { and, asc, eq, gt, inArray, sql } from "drizzle-orm";
import type { Clock } from "../core/clock.ts";
import { AppError, invalidArgument, notFound } from "../core/errors.ts";
import type { Database } from "../db/client.ts";
import { settings } from "./schema.ts";

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

/** Runtime settings stored in SQLite (load-balancer algorithm, switches…). */
export interface Settings {
  get(name: string): Setting;
  list(query: { pageSize: number; pageToken: string; names: string[]; prefix: string }): SettingsPage;
  set(name: string, value: unknown, expectedVersion?: number): Promise<Setting>;
  delete(name: string): Promise<void>;
}

const NAME = /^[A-Za-z0-9._-]{1,128}$/;
const MAX_VALUE_BYTES = 64 * 1024;

function checkName(name: string): void {
  if (!NAME.test(name)) throw invalidArgument("name", "must be 1-128 characters of letters, digits, '.', '_' or '-'");
}

type Row = typeof settings.$inferSelect;
const toSetting = (r: Row): Setting => ({ name: r.name, value: JSON.parse(r.value), version: r.version, updatedAt: r.updatedAt });

/** Creates the settings domain over an opened database. */
export function createSettings(database: Database, clock: Clock): Settings {
  const { db, committer } = database;
  const find = (name: string) => db.select().from(settings).where(eq(settings.name, name)).get();
  return {
    get(name) {
      checkName(name);
      const row = find(name);
      if (!row) throw notFound("SETTING_NOT_FOUND", `setting ${name} does not exist`, { name });
      return toSetting(row);
    },
    list({ pageSize, pageToken, names, prefix }) {
      const size = pageSize === 0 ? 50 : pageSize;
      let after = "";
      if (pageToken !== "") {
        after = Buffer.from(pageToken, "base64url").toString();
        if (!after.startsWith("s:")) throw invalidArgument("page_token", "is not a token this server issued");
        after = after.slice(2);
      }
      const conditions = [gt(settings.name, after)];
      if (names.length > 0) conditions.push(inArray(settings.name, names));
      if (prefix !== "") conditions.push(sql`${settings.name} LIKE ${`${prefix.replace(/[%_\\]/g, "\\$&")}%`} ESCAPE '\\'`);
      const rows = db.select().from(settings).where(and(...conditions)).orderBy(asc(settings.name)).limit(size + 1).all();
      const page = rows.slice(0, size).map(toSetting);
      const next = rows.length > size ? Buffer.from(`s:${page[page.length - 1]!.name}`).toString("base64url") : "";
      return { settings: page, nextPageToken: next };
    },
    async set(name, value, expectedVersion) {
      checkName(name);
      if (value === null || value === undefined) throw invalidArgument("value", "is required");
      const json = JSON.stringify(value);
      if (json.length > MAX_VALUE_BYTES) throw invalidArgument("value", `is larger than ${MAX_VALUE_BYTES} bytes`);
      return committer.run(() => {
        const current = find(name);
        const version = current?.version ?? 0;
        if (expectedVersion !== undefined && expectedVersion !== version) {
          throw new AppError("aborted", "VERSION_MISMATCH", `setting ${name} is at version ${version}, not ${expectedVersion}`, {
            name,
            version: String(version),
          });
        }
        const row = { name, value: json, updatedAt: clock.now(), version: version + 1 };
        db.insert(settings).values(row).onConflictDoUpdate({ target: settings.name, set: row }).run();
        return toSetting(row);
      });
    },
    async delete(name) {
      checkName(name);
      await committer.run(() => {
        const deleted = db.delete(settings).where(eq(settings.name, name)).returning().all();
        if (deleted.length === 0) throw notFound("SETTING_NOT_FOUND", `setting ${name} does not exist`, { name });
      });
    },
  };
}
