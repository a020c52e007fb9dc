import type { Clock } from "../core/clock.ts";
import { invalidArgument, notFound } from "../core/errors.ts";
import { newId } from "../core/ids.ts";
import type { Principal } from "../core/principal.ts";
import type { OpDatabase, Tx } from "../db/dialect.ts";
import type { Op } from "../db/op.ts";
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
export function createSessions(deps: { database: OpDatabase; store: AuthStore; clock: Clock }) {
  const { database, store, clock } = deps;
  /** Opens a session (an operation inside the caller's write; the token is drawn anew if it is retried). */
  function* issue(tx: Tx, who: { tenant: string; userId: string; roles: string[] }, method: "google" | "device"): Op<IssuedSession> {
    const token = newSessionToken();
    const now = clock.now();
    const row = yield* store.insertSession(tx, { id: newId("sess", now), tokenHash: hashSecret(token), tenant: who.tenant, userId: who.userId, roles: who.roles, method, createdAt: now, expiresAt: now + SESSION_TTL_MS });
    return { session: toSession(row), token };
  }
  return {
    issue,
    /** Opens a session in a write of its own (committed when the promise resolves). */
    open: (who: { tenant: string; userId: string; roles: string[] }, method: "google" | "device"): Promise<IssuedSession> => database.write((tx) => issue(tx, who, method)),

    /**
     * The principal of a session token; undefined when unknown, revoked or expired. Read from
     * the database every time (no cache), so a revocation through any instance holds at once.
     */
    async lookup(token: string): Promise<Principal | undefined> {
      if (!token.startsWith("sy_")) return undefined;
      const hash = hashSecret(token);
      const row = await database.read((tx) => store.sessionByHash(tx, hash));
      if (!row || row.revoked_at !== null || row.expires_at <= clock.now()) return undefined;
      return { kind: "session", tenant: row.tenant, user: row.user_id, roles: JSON.parse(row.roles) as string[] };
    },

    /** A page of a user's live sessions, newest first (page size 0 → 50, at most 1000). */
    async list(tenant: string, userId: string, pageSize: number, pageToken: string): Promise<{ sessions: Session[]; nextPageToken: string }> {
      const size = pageSize === 0 ? 50 : pageSize;
      if (!Number.isInteger(size) || size < 0 || size > 1000) throw invalidArgument("page_size", "must be 0..1000");
      const after = pageToken ? decodeCursor(pageToken) : undefined;
      const now = clock.now();
      const rows = await database.read((tx) => store.sessionsOfUser(tx, tenant, userId, now, after, size + 1));
      const page = rows.slice(0, size).map(toSession);
      const last = page[page.length - 1];
      return { sessions: page, nextPageToken: rows.length > size && last ? Buffer.from(JSON.stringify([last.createdAt, last.id])).toString("base64url") : "" };
    },

    /** Revokes one of the user's sessions; another user's (or tenant's) is SESSION_NOT_FOUND. */
    async revoke(tenant: string, userId: string, id: string): Promise<Session> {
      const row = await database.write((tx) => store.revokeSession(tx, tenant, userId, id, clock.now()));
      if (!row) throw notFound("SESSION_NOT_FOUND", `session not found: ${id}`, { id });
      return toSession(row);
    },
  };
}

export type Sessions = ReturnType<typeof createSessions>;

function decodeCursor(token: string): [number, string] {
  try {
    const c = JSON.parse(Buffer.from(token, "base64url").toString()) as unknown;
    if (Array.isArray(c) && typeof c[0] === "number" && typeof c[1] === "string") return [c[0], c[1]];
  } catch {
    // fall through
  }
  throw invalidArgument("page_token", "is not a token this list gave");
}
