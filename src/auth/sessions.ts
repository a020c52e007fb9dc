import type { Clock } from "../core/clock.ts";
import { notFound } from "../core/errors.ts";
import { newId } from "../core/ids.ts";
import type { Principal } from "../core/principal.ts";
import type { Database } from "../db/client.ts";
import type { AuthStore, SessionRow } from "./store.ts";
import { hashSecret, newSessionToken } from "./tokens.ts";

/** Sessions live 30 days (seed 002). */
export const SESSION_TTL_MS = 30 * 86_400_000;

export interface Session {
  id: string;
  tenant: string;
  userId: string;
  roles: string[];
  method: string;
  createdAt: number;
  expiresAt: number;
}

/** A session just opened: the token is shown this once and never stored. */
export interface IssuedSession {
  session: Session;
  token: string;
}

const toSession = (r: SessionRow): Session => ({
  id: r.id,
  tenant: r.tenant,
  userId: r.user_id,
  roles: JSON.parse(r.roles) as string[],
  method: r.method,
  createdAt: r.created_at,
  expiresAt: r.expires_at,
});

/** Opens, resolves, lists and revokes sessions; tokens are kept only as SHA-256 hashes. */
export function createSessions(deps: { database: Database; store: AuthStore; clock: Clock }) {
  const { database, store, clock } = deps;
  return {
    /** Opens a session (inside the caller's transaction). */
    issue(who: { tenant: string; userId: string; roles: string[] }, method: "google" | "device"): IssuedSession {
      const token = newSessionToken();
      const now = clock.now();
      const row = store.insertSession({ id: newId("sess", now), tokenHash: hashSecret(token), tenant: who.tenant, userId: who.userId, roles: who.roles, method, createdAt: now, expiresAt: now + SESSION_TTL_MS });
      return { session: toSession(row), token };
    },

    /** The principal of a session token; undefined when unknown, revoked or expired. */
    lookup(token: string): Principal | undefined {
      if (!token.startsWith("sy_")) return undefined;
      const row = store.sessionByHash(hashSecret(token));
      if (!row || row.revoked_at !== null || row.expires_at <= clock.now()) return undefined;
      return { kind: "session", tenant: row.tenant, user: row.user_id, roles: JSON.parse(row.roles) as string[] };
    },

    /** A user's live sessions, newest first. */
    list(tenant: string, userId: string, size: number, after: [number, string] | undefined): { sessions: Session[]; next: [number, string] | undefined } {
      const rows = store.sessionsOfUser(tenant, userId, clock.now(), after, size + 1);
      const page = rows.slice(0, size).map(toSession);
      const last = page[page.length - 1];
      return { sessions: page, next: rows.length > size && last ? [last.createdAt, last.id] : undefined };
    },

    /** Revokes one of the user's sessions; another user's (or tenant's) is SESSION_NOT_FOUND. */
    async revoke(tenant: string, userId: string, id: string): Promise<Session> {
      const row = await database.committer.run(() => store.revokeSession(tenant, userId, id, clock.now()));
      if (!row) throw notFound("SESSION_NOT_FOUND", `session not found: ${id}`, { id });
      return toSession(row);
    },
  };
}

export type Sessions = ReturnType<typeof createSessions>;
