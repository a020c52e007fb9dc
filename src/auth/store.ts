import type { Database as Sqlite } from "bun:sqlite";
import { intColumns, type PgTx, type Tx } from "../db/dialect.ts";
import { done, step, type Op } from "../db/op.ts";

/** Rows of the auth tables (the same on both dialects: int8 columns are turned into numbers). */
export interface UserRow {
  id: string;
  tenant: string;
  issuer: string;
  subject: string;
  email: string;
  name: string;
  picture: string;
  roles: string;
  created_at: number;
  updated_at: number;
}

export interface SessionRow {
  id: string;
  token_hash: string;
  tenant: string;
  user_id: string;
  roles: string;
  method: string;
  created_at: number;
  expires_at: number;
  revoked_at: number | null;
}

export interface DeviceRow {
  device_code_hash: string;
  user_code: string;
  status: "pending" | "authorized" | "denied" | "exchanged";
  tenant: string | null;
  user_id: string | null;
  roles: string | null;
  interval_s: number;
  last_poll_at: number | null;
  created_at: number;
  expires_at: number;
}

export interface ApiKeyRow {
  id: string;
  tenant: string;
  user_id: string;
  provider: string;
  key_name: string;
  sealed: string;
  masked: string;
  created_at: number;
  updated_at: number;
}

export interface NewUser {
  id: string;
  tenant: string;
  issuer: string;
  subject: string;
  email: string;
  name: string;
  picture: string;
}
export interface Profile {
  email: string;
  name: string;
  picture: string;
}
export interface NewSession {
  id: string;
  tokenHash: string;
  tenant: string;
  userId: string;
  roles: string[];
  method: string;
  createdAt: number;
  expiresAt: number;
}
export interface NewApiKey {
  id: string;
  tenant: string;
  userId: string;
  provider: string;
  keyName: string;
  sealed: string;
  masked: string;
}
export interface DeviceOwnerRow {
  tenant: string;
  userId: string;
  roles: string[];
}

/**
 * Every statement of the auth domain, once per dialect, as operations. Writes run inside a
 * `database.write` transaction. User, session and key statements name their tenant; device
 * codes belong to no tenant until authorized (the CLI that started one has no principal yet).
 */
export interface AuthStore {
  userByIdentity(tx: Tx, issuer: string, subject: string): Op<UserRow | undefined>;
  userById(tx: Tx, tenant: string, id: string): Op<UserRow | undefined>;
  /** Inserts a user; when another instance inserted the same identity meanwhile, answers that row. */
  insertUser(tx: Tx, u: NewUser, now: number): Op<UserRow>;
  updateUser(tx: Tx, id: string, p: Profile, now: number): Op<UserRow>;

  insertSession(tx: Tx, s: NewSession): Op<SessionRow>;
  sessionByHash(tx: Tx, hash: string): Op<SessionRow | undefined>;
  /** One page of a user's live sessions, newest first, after the cursor (created_at, id). */
  sessionsOfUser(tx: Tx, tenant: string, userId: string, now: number, before: [number, string] | undefined, limit: number): Op<SessionRow[]>;
  revokeSession(tx: Tx, tenant: string, userId: string, id: string, now: number): Op<SessionRow | undefined>;

  /** Inserts a pending device code; undefined when its user code (or hash) is taken. */
  insertDevice(tx: Tx, hash: string, userCode: string, intervalS: number, now: number, expiresAt: number): Op<DeviceRow | undefined>;
  deviceByHash(tx: Tx, hash: string): Op<DeviceRow | undefined>;
  /** The device row, locked until the transaction ends (PostgreSQL: polls through several instances queue up). */
  deviceForUpdate(tx: Tx, hash: string): Op<DeviceRow | undefined>;
  deviceByUserCode(tx: Tx, code: string): Op<DeviceRow | undefined>;
  pollDevice(tx: Tx, hash: string, now: number, intervalS: number): Op<void>;
  answerDevice(tx: Tx, hash: string, status: "authorized" | "denied", who: DeviceOwnerRow | undefined): Op<DeviceRow | undefined>;
  exchangeDevice(tx: Tx, hash: string): Op<DeviceRow | undefined>;
  /** Removes device codes that expired before `before`; how many. */
  purgeDevices(tx: Tx, before: number): Op<number>;
  /** Removes sessions that expired or were revoked before `before`; how many. */
  purgeSessions(tx: Tx, before: number): Op<number>;
  /**
   * Whether this write may do the fleet's once-per-tick upkeep named `name`: on PostgreSQL a
   * transaction-level advisory lock that one instance at a time gets (the others skip their
   * tick); SQLite has one process: always.
   */
  tryUpkeep(tx: Tx, name: string): Op<boolean>;

  upsertKey(tx: Tx, k: NewApiKey, now: number): Op<ApiKeyRow>;
  keysOfUser(tx: Tx, tenant: string, userId: string): Op<ApiKeyRow[]>;
  deleteKey(tx: Tx, tenant: string, userId: string, provider: string): Op<ApiKeyRow | undefined>;
}

const orUndefined = <T>(v: T | null): T | undefined => v ?? undefined;

/** The auth statements over SQLite (prepared once; they answer synchronously). */
export function createSqliteAuthStore(sqlite: Sqlite): AuthStore {
  const userByIdentity = sqlite.prepare(`SELECT * FROM auth_users WHERE issuer = ? AND subject = ?`);
  const userById = sqlite.prepare(`SELECT * FROM auth_users WHERE tenant = ? AND id = ?`);
  const insertUser = sqlite.prepare(`INSERT INTO auth_users (id, tenant, issuer, subject, email, name, picture, roles, created_at, updated_at)
    VALUES (?, ?, ?, ?, ?, ?, ?, '[]', ?, ?) RETURNING *`);
  const updateUser = sqlite.prepare(`UPDATE auth_users SET email = ?, name = ?, picture = ?, updated_at = ? WHERE id = ? RETURNING *`);

  const insertSession = sqlite.prepare(`INSERT INTO auth_sessions (id, token_hash, tenant, user_id, roles, method, created_at, expires_at)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING *`);
  const sessionByHash = sqlite.prepare(`SELECT * FROM auth_sessions WHERE token_hash = ?`);
  const sessionsOfUser = sqlite.prepare(`SELECT * FROM auth_sessions WHERE tenant = ? AND user_id = ? AND revoked_at IS NULL AND expires_at > ?
    AND (created_at < ? OR (created_at = ? AND id < ?)) ORDER BY created_at DESC, id DESC LIMIT ?`);
  const revokeSession = sqlite.prepare(`UPDATE auth_sessions SET revoked_at = ? WHERE tenant = ? AND user_id = ? AND id = ? AND revoked_at IS NULL RETURNING *`);

  const insertDevice = sqlite.prepare(`INSERT INTO auth_device_codes (device_code_hash, user_code, status, interval_s, created_at, expires_at)
    VALUES (?, ?, 'pending', ?, ?, ?) RETURNING *`);
  const deviceByHash = sqlite.prepare(`SELECT * FROM auth_device_codes WHERE device_code_hash = ?`);
  const deviceByUserCode = sqlite.prepare(`SELECT * FROM auth_device_codes WHERE user_code = ?`);
  const pollDevice = sqlite.prepare(`UPDATE auth_device_codes SET last_poll_at = ?, interval_s = ? WHERE device_code_hash = ?`);
  const answerDevice = sqlite.prepare(`UPDATE auth_device_codes SET status = ?, tenant = ?, user_id = ?, roles = ? WHERE device_code_hash = ? AND status = 'pending' RETURNING *`);
  const exchangeDevice = sqlite.prepare(`UPDATE auth_device_codes SET status = 'exchanged' WHERE device_code_hash = ? AND status = 'authorized' RETURNING *`);
  const purgeDevices = sqlite.prepare(`DELETE FROM auth_device_codes WHERE expires_at <= ?`);
  const purgeSessions = sqlite.prepare(`DELETE FROM auth_sessions WHERE expires_at <= ?1 OR revoked_at <= ?1`);

  const upsertKey = sqlite.prepare(`INSERT INTO auth_api_keys (id, tenant, user_id, provider, key_name, sealed, masked, created_at, updated_at)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
    ON CONFLICT (tenant, user_id, provider) DO UPDATE SET sealed = excluded.sealed, masked = excluded.masked, key_name = excluded.key_name, updated_at = excluded.updated_at
    RETURNING *`);
  const keysOfUser = sqlite.prepare(`SELECT * FROM auth_api_keys WHERE tenant = ? AND user_id = ? ORDER BY provider LIMIT 1000`);
  const deleteKey = sqlite.prepare(`DELETE FROM auth_api_keys WHERE tenant = ? AND user_id = ? AND provider = ? RETURNING *`);

  const device = (hash: string) => orUndefined(deviceByHash.get(hash) as DeviceRow | null);
  return {
    userByIdentity: (_tx, issuer, subject) => done(orUndefined(userByIdentity.get(issuer, subject) as UserRow | null)),
    userById: (_tx, tenant, id) => done(orUndefined(userById.get(tenant, id) as UserRow | null)),
    insertUser: (_tx, u, now) => done(insertUser.get(u.id, u.tenant, u.issuer, u.subject, u.email, u.name, u.picture, now, now) as UserRow),
    updateUser: (_tx, id, p, now) => done(updateUser.get(p.email, p.name, p.picture, now, id) as UserRow),

    insertSession: (_tx, s) => done(insertSession.get(s.id, s.tokenHash, s.tenant, s.userId, JSON.stringify(s.roles), s.method, s.createdAt, s.expiresAt) as SessionRow),
    sessionByHash: (_tx, hash) => done(orUndefined(sessionByHash.get(hash) as SessionRow | null)),
    sessionsOfUser: (_tx, tenant, userId, now, before, limit) =>
      done(sessionsOfUser.all(tenant, userId, now, before?.[0] ?? Number.MAX_SAFE_INTEGER, before?.[0] ?? Number.MAX_SAFE_INTEGER, before?.[1] ?? "", limit) as SessionRow[]),
    revokeSession: (_tx, tenant, userId, id, now) => done(orUndefined(revokeSession.get(now, tenant, userId, id) as SessionRow | null)),

    insertDevice(_tx, hash, userCode, intervalS, now, expiresAt) {
      try {
        return done(insertDevice.get(hash, userCode, intervalS, now, expiresAt) as DeviceRow);
      } catch (error) {
        if (!String(error).includes("UNIQUE")) throw error;
        return done(undefined);
      }
    },
    deviceByHash: (_tx, hash) => done(device(hash)),
    // One writer: the group transaction already excludes every other poll.
    deviceForUpdate: (_tx, hash) => done(device(hash)),
    deviceByUserCode: (_tx, code) => done(orUndefined(deviceByUserCode.get(code) as DeviceRow | null)),
    pollDevice(_tx, hash, now, intervalS) {
      pollDevice.run(now, intervalS, hash);
      return done(undefined);
    },
    answerDevice: (_tx, hash, status, who) =>
      done(orUndefined(answerDevice.get(status, who?.tenant ?? null, who?.userId ?? null, who ? JSON.stringify(who.roles) : null, hash) as DeviceRow | null)),
    exchangeDevice: (_tx, hash) => done(orUndefined(exchangeDevice.get(hash) as DeviceRow | null)),
    purgeDevices: (_tx, before) => done(purgeDevices.run(before).changes),
    purgeSessions: (_tx, before) => done(purgeSessions.run(before).changes),
    tryUpkeep: () => done(true),

    upsertKey: (_tx, k, now) => done(upsertKey.get(k.id, k.tenant, k.userId, k.provider, k.keyName, k.sealed, k.masked, now, now) as ApiKeyRow),
    keysOfUser: (_tx, tenant, userId) => done(keysOfUser.all(tenant, userId) as ApiKeyRow[]),
    deleteKey: (_tx, tenant, userId, provider) => done(orUndefined(deleteKey.get(tenant, userId, provider) as ApiKeyRow | null)),
  };
}

const USER_INTS = ["created_at", "updated_at"] as const;
const SESSION_INTS = ["created_at", "expires_at", "revoked_at"] as const;
const DEVICE_INTS = ["last_poll_at", "created_at", "expires_at"] as const;
const KEY_INTS = ["created_at", "updated_at"] as const;

/** The same statements over PostgreSQL (Bun's SQL, on the group's connection or the read pool). */
export function createPgAuthStore(): AuthStore {
  const pg = (tx: Tx) => (tx as PgTx).sql;
  function* rows<R extends object>(query: PromiseLike<unknown>, ints: readonly string[]): Op<R[]> {
    return intColumns((yield* step(query)) as R[], ints);
  }
  function* first<R extends object>(query: PromiseLike<unknown>, ints: readonly string[]): Op<R | undefined> {
    return (yield* rows<R>(query, ints))[0];
  }
  return {
    userByIdentity: (tx, issuer, subject) => first<UserRow>(pg(tx)`SELECT * FROM auth_users WHERE issuer = ${issuer} AND subject = ${subject}`, USER_INTS),
    userById: (tx, tenant, id) => first<UserRow>(pg(tx)`SELECT * FROM auth_users WHERE tenant = ${tenant} AND id = ${id}`, USER_INTS),
    *insertUser(tx, u, now) {
      const inserted = yield* first<UserRow>(
        pg(tx)`INSERT INTO auth_users (id, tenant, issuer, subject, email, name, picture, roles, created_at, updated_at)
          VALUES (${u.id}, ${u.tenant}, ${u.issuer}, ${u.subject}, ${u.email}, ${u.name}, ${u.picture}, '[]', ${now}, ${now})
          ON CONFLICT (issuer, subject) DO NOTHING RETURNING *`,
        USER_INTS,
      );
      if (inserted) return inserted;
      // Another instance signed this identity in first (committed: ON CONFLICT waited for it).
      const existing = yield* first<UserRow>(pg(tx)`SELECT * FROM auth_users WHERE issuer = ${u.issuer} AND subject = ${u.subject}`, USER_INTS);
      return existing!;
    },
    *updateUser(tx, id, p, now) {
      const row = yield* first<UserRow>(pg(tx)`UPDATE auth_users SET email = ${p.email}, name = ${p.name}, picture = ${p.picture}, updated_at = ${now} WHERE id = ${id} RETURNING *`, USER_INTS);
      return row!;
    },

    *insertSession(tx, s) {
      const row = yield* first<SessionRow>(
        pg(tx)`INSERT INTO auth_sessions (id, token_hash, tenant, user_id, roles, method, created_at, expires_at)
          VALUES (${s.id}, ${s.tokenHash}, ${s.tenant}, ${s.userId}, ${JSON.stringify(s.roles)}, ${s.method}, ${s.createdAt}, ${s.expiresAt}) RETURNING *`,
        SESSION_INTS,
      );
      return row!;
    },
    sessionByHash: (tx, hash) => first<SessionRow>(pg(tx)`SELECT * FROM auth_sessions WHERE token_hash = ${hash}`, SESSION_INTS),
    sessionsOfUser(tx, tenant, userId, now, before, limit) {
      const at = before?.[0] ?? Number.MAX_SAFE_INTEGER;
      const id = before?.[1] ?? "";
      return rows<SessionRow>(
        pg(tx)`SELECT * FROM auth_sessions WHERE tenant = ${tenant} AND user_id = ${userId} AND revoked_at IS NULL AND expires_at > ${now}
          AND (created_at < ${at} OR (created_at = ${at} AND id COLLATE "C" < ${id})) ORDER BY created_at DESC, id COLLATE "C" DESC LIMIT ${limit}`,
        SESSION_INTS,
      );
    },
    revokeSession: (tx, tenant, userId, id, now) =>
      first<SessionRow>(pg(tx)`UPDATE auth_sessions SET revoked_at = ${now} WHERE tenant = ${tenant} AND user_id = ${userId} AND id = ${id} AND revoked_at IS NULL RETURNING *`, SESSION_INTS),

    insertDevice: (tx, hash, userCode, intervalS, now, expiresAt) =>
      first<DeviceRow>(
        pg(tx)`INSERT INTO auth_device_codes (device_code_hash, user_code, status, interval_s, created_at, expires_at)
          VALUES (${hash}, ${userCode}, 'pending', ${intervalS}, ${now}, ${expiresAt}) ON CONFLICT DO NOTHING RETURNING *`,
        DEVICE_INTS,
      ),
    deviceByHash: (tx, hash) => first<DeviceRow>(pg(tx)`SELECT * FROM auth_device_codes WHERE device_code_hash = ${hash}`, DEVICE_INTS),
    deviceForUpdate: (tx, hash) => first<DeviceRow>(pg(tx)`SELECT * FROM auth_device_codes WHERE device_code_hash = ${hash} FOR UPDATE`, DEVICE_INTS),
    deviceByUserCode: (tx, code) => first<DeviceRow>(pg(tx)`SELECT * FROM auth_device_codes WHERE user_code = ${code}`, DEVICE_INTS),
    *pollDevice(tx, hash, now, intervalS) {
      yield* step(pg(tx)`UPDATE auth_device_codes SET last_poll_at = ${now}, interval_s = ${intervalS} WHERE device_code_hash = ${hash}`);
    },
    answerDevice: (tx, hash, status, who) =>
      first<DeviceRow>(
        pg(tx)`UPDATE auth_device_codes SET status = ${status}, tenant = ${who?.tenant ?? null}, user_id = ${who?.userId ?? null}, roles = ${who ? JSON.stringify(who.roles) : null}
          WHERE device_code_hash = ${hash} AND status = 'pending' RETURNING *`,
        DEVICE_INTS,
      ),
    exchangeDevice: (tx, hash) => first<DeviceRow>(pg(tx)`UPDATE auth_device_codes SET status = 'exchanged' WHERE device_code_hash = ${hash} AND status = 'authorized' RETURNING *`, DEVICE_INTS),
    *purgeDevices(tx, before) {
      return ((yield* step(pg(tx)`DELETE FROM auth_device_codes WHERE expires_at <= ${before} RETURNING device_code_hash`)) as unknown[]).length;
    },
    *purgeSessions(tx, before) {
      return ((yield* step(pg(tx)`DELETE FROM auth_sessions WHERE expires_at <= ${before} OR revoked_at <= ${before} RETURNING id`)) as unknown[]).length;
    },
    *tryUpkeep(tx, name) {
      const [row] = (yield* step(pg(tx)`SELECT pg_try_advisory_xact_lock(hashtext(${name})) AS ok`)) as { ok: boolean }[];
      return row!.ok;
    },

    *upsertKey(tx, k, now) {
      const row = yield* first<ApiKeyRow>(
        pg(tx)`INSERT INTO auth_api_keys (id, tenant, user_id, provider, key_name, sealed, masked, created_at, updated_at)
          VALUES (${k.id}, ${k.tenant}, ${k.userId}, ${k.provider}, ${k.keyName}, ${k.sealed}, ${k.masked}, ${now}, ${now})
          ON CONFLICT (tenant, user_id, provider) DO UPDATE SET sealed = excluded.sealed, masked = excluded.masked, key_name = excluded.key_name, updated_at = excluded.updated_at
          RETURNING *`,
        KEY_INTS,
      );
      return row!;
    },
    keysOfUser: (tx, tenant, userId) => rows<ApiKeyRow>(pg(tx)`SELECT * FROM auth_api_keys WHERE tenant = ${tenant} AND user_id = ${userId} ORDER BY provider COLLATE "C" LIMIT 1000`, KEY_INTS),
    deleteKey: (tx, tenant, userId, provider) => first<ApiKeyRow>(pg(tx)`DELETE FROM auth_api_keys WHERE tenant = ${tenant} AND user_id = ${userId} AND provider = ${provider} RETURNING *`, KEY_INTS),
  };
}
