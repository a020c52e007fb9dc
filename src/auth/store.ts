import type { Database as Sqlite } from "bun:sqlite";

/** Rows of the auth tables as SQLite returns them. */
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

/**
 * Every statement of the auth domain. Writes are meant to run inside a committer transaction.
 * User, session and key statements name their tenant; device codes belong to no tenant until
 * authorized (the CLI that started one has no principal yet).
 */
export function createAuthStore(sqlite: Sqlite) {
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

  return {
    userByIdentity: (issuer: string, subject: string) => userByIdentity.get(issuer, subject) as UserRow | null,
    userById: (tenant: string, id: string) => userById.get(tenant, id) as UserRow | null,
    insertUser: (u: { id: string; tenant: string; issuer: string; subject: string; email: string; name: string; picture: string }, now: number) =>
      insertUser.get(u.id, u.tenant, u.issuer, u.subject, u.email, u.name, u.picture, now, now) as UserRow,
    updateUser: (id: string, p: { email: string; name: string; picture: string }, now: number) => updateUser.get(p.email, p.name, p.picture, now, id) as UserRow,

    insertSession: (s: { id: string; tokenHash: string; tenant: string; userId: string; roles: string[]; method: string; createdAt: number; expiresAt: number }) =>
      insertSession.get(s.id, s.tokenHash, s.tenant, s.userId, JSON.stringify(s.roles), s.method, s.createdAt, s.expiresAt) as SessionRow,
    sessionByHash: (hash: string) => sessionByHash.get(hash) as SessionRow | null,
    /** One page of a user's live sessions, newest first, after the cursor (created_at, id). */
    sessionsOfUser: (tenant: string, userId: string, now: number, before: [number, string] | undefined, limit: number) =>
      sessionsOfUser.all(tenant, userId, now, before?.[0] ?? Number.MAX_SAFE_INTEGER, before?.[0] ?? Number.MAX_SAFE_INTEGER, before?.[1] ?? "", limit) as SessionRow[],
    revokeSession: (tenant: string, userId: string, id: string, now: number) => revokeSession.get(now, tenant, userId, id) as SessionRow | null,

    insertDevice: (hash: string, userCode: string, intervalS: number, now: number, expiresAt: number) => insertDevice.get(hash, userCode, intervalS, now, expiresAt) as DeviceRow | null,
    deviceByHash: (hash: string) => deviceByHash.get(hash) as DeviceRow | null,
    deviceByUserCode: (code: string) => deviceByUserCode.get(code) as DeviceRow | null,
    pollDevice: (hash: string, now: number, intervalS: number) => pollDevice.run(now, intervalS, hash),
    answerDevice: (hash: string, status: "authorized" | "denied", who: { tenant: string; userId: string; roles: string[] } | undefined) =>
      answerDevice.get(status, who?.tenant ?? null, who?.userId ?? null, who ? JSON.stringify(who.roles) : null, hash) as DeviceRow | null,
    exchangeDevice: (hash: string) => exchangeDevice.get(hash) as DeviceRow | null,
    /** Removes device codes that expired before `before`. */
    purgeDevices: (before: number) => purgeDevices.run(before).changes,
    /** Removes sessions that expired or were revoked before `before`. */
    purgeSessions: (before: number) => purgeSessions.run(before).changes,

    upsertKey: (k: { id: string; tenant: string; userId: string; provider: string; keyName: string; sealed: string; masked: string }, now: number) =>
      upsertKey.get(k.id, k.tenant, k.userId, k.provider, k.keyName, k.sealed, k.masked, now, now) as ApiKeyRow,
    keysOfUser: (tenant: string, userId: string) => keysOfUser.all(tenant, userId) as ApiKeyRow[],
    deleteKey: (tenant: string, userId: string, provider: string) => deleteKey.get(tenant, userId, provider) as ApiKeyRow | null,
  };
}

export type AuthStore = ReturnType<typeof createAuthStore>;
