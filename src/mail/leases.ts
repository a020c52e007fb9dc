import { systemClock, type Clock } from "../core/clock.ts";
import { AppError, invalidArgument } from "../core/errors.ts";
import type { Database } from "../db/client.ts";
import { createPgLeaseStore, createSqliteLeaseStore, type LeaseRow, type LeaseStore } from "./lease-store.ts";
import { DEFAULT_TENANT } from "../core/principal.ts";
import type { MailMessage, Messages } from "./messages.ts";
import { decodePageToken, encodePageToken, pageSize } from "./pages.ts";
import { normalizeLeasePath, validatePathPrefix } from "./paths.ts";

/** An exclusive advisory lease on a path. Times are ms since the epoch (server clock). */
export interface Lease {
  path: string;
  holder: string;
  /** Strictly increasing over every grant the server ever made (never reused). */
  fencingToken: number;
  acquireTime: number;
  expireTime: number;
}

export type LeaseEventType = "acquired" | "released" | "expired" | "renewed";

/** A lease change as published on `leases.<type>` and streamed by watch(). */
export interface LeaseEvent {
  /** Sequence of the mail message that carries the event. */
  sequence: number;
  type: LeaseEventType;
  lease: Lease;
  eventTime: number;
}

export interface AcquireInput {
  path: string;
  holder: string;
  /** Default 60 s; 1 s to 24 h. */
  ttlMs?: number;
}

export interface LeaseSubscription extends AsyncIterable<LeaseEvent> {
  readonly lastSequence: number;
  close(): void;
}

/** File leases: acquire, renew, release by fencing token, query, watch, and expiry by the server clock. */
export interface Leases {
  /** The same rules over another tenant's leases (paths are per tenant). */
  forTenant(tenant: string): Leases;
  /** Grants the path to `holder` (or extends the holder's own lease); LEASE_HELD when another holds it. */
  acquire(input: AcquireInput): Promise<Lease>;
  /** Extends a lease still held with `fencingToken` to now + ttl; LEASE_LOST otherwise. */
  renew(input: { path: string; fencingToken: number; ttlMs?: number }): Promise<Lease>;
  /** Ends a lease held with `fencingToken`; LEASE_LOST when that token no longer holds the path. */
  release(input: { path: string; fencingToken: number }): Promise<Lease>;
  /** The current lease of a path, or undefined when the path is free. */
  get(path: string): Promise<Lease | undefined>;
  /** Current leases under a path prefix (and of one holder), in path order, paginated. */
  list(input: { prefix?: string; holder?: string; pageSize?: number; pageToken?: string }): Promise<{ leases: Lease[]; nextPageToken: string }>;
  /** Streams lease events for paths under a prefix, from a sequence or from now. */
  watch(input: { prefix?: string; startSequence?: number; bufferSize?: number }): LeaseSubscription;
  /** Removes leases past their expiry, of every tenant, and publishes `leases.expired` in each lease's tenant; returns them. */
  sweepExpired(): Promise<Lease[]>;
}

export interface LeasesDeps {
  database: Database;
  messages: Messages;
  clock?: Clock;
  /** Called when a lease event could not be published (the lease change itself is committed). */
  onEventError?: (error: unknown, event: { type: LeaseEventType; lease: Lease }) => void;
}

export const DEFAULT_LEASE_TTL_MS = 60_000;
export const MIN_LEASE_TTL_MS = 1_000;
export const MAX_LEASE_TTL_MS = 24 * 3600_000;
export const LEASE_EVENT_SENDER = "switchyard";
const MAX_HOLDER = 128;

const toLease = (r: LeaseRow): Lease => ({ path: r.path, holder: r.holder, fencingToken: r.token, acquireTime: r.acquired_at, expireTime: r.expires_at });

/** Most times an acquire reads the path again after another instance granted it under its feet. */
const MAX_INSERT_RACES = 3;

/**
 * Creates the lease half of the mail domain over the `mail_leases` table (SQLite or
 * PostgreSQL). Every change is one operation in the group committer (answered after commit);
 * a lease is held while `expires_at > clock.now()`. Events are published after the commit that
 * made them, as mail messages on the Bus (NATS when several instances share the database), so
 * every instance's watchers see each event once.
 */
export function createLeases(deps: LeasesDeps): Leases {
  const { database } = deps;
  const store = database.dialect === "sqlite" ? createSqliteLeaseStore(database.sqlite) : createPgLeaseStore();
  const scopes = new Map<string, Leases>();
  const forTenant = (tenant: string): Leases => {
    let l = scopes.get(tenant);
    if (!l) scopes.set(tenant, (l = createTenantLeases(deps, store, tenant, forTenant)));
    return l;
  };
  return forTenant(DEFAULT_TENANT);
}

function createTenantLeases(deps: LeasesDeps, store: LeaseStore, tenant: string, forTenant: (tenant: string) => Leases): Leases {
  const { database } = deps;
  const messages = deps.messages.forTenant(tenant);
  const clock = deps.clock ?? systemClock;
  const onEventError = deps.onEventError ?? ((error, e) => console.error(`mail: could not publish lease event ${e.type} for ${e.lease.path}:`, error));

  async function emit(type: LeaseEventType, lease: Lease, inTenant = tenant): Promise<void> {
    const payload = {
      type,
      path: lease.path,
      holder: lease.holder,
      fencing_token: lease.fencingToken,
      acquire_time: new Date(lease.acquireTime).toISOString(),
      expire_time: new Date(lease.expireTime).toISOString(),
      event_time: new Date(clock.now()).toISOString(),
    };
    try {
      await messages.forTenant(inTenant).publishSystem(`leases.${type}`, payload, LEASE_EVENT_SENDER);
    } catch (error) {
      onEventError(error, { type, lease });
    }
  }

  const lost = (path: string, token: number) =>
    new AppError("failed_precondition", "LEASE_LOST", `fencing token ${token} no longer holds ${path} (expired, released or taken over)`, {
      path,
      fencing_token: String(token),
    });

  return {
    forTenant,
    async acquire(input) {
      const path = normalizeLeasePath(input.path);
      const holder = validateHolder(input.holder);
      const ttl = validateTtl(input.ttlMs);
      const outcome = await database.write(function* (tx) {
        for (let race = 0; ; race++) {
          const now = clock.now();
          const row = yield* store.lock(tx, tenant, path);
          let expired: Lease | undefined;
          if (row) {
            if (row.expires_at > now) {
              if (row.holder === holder) return { lease: toLease((yield* store.extend(tx, tenant, path, now + ttl, ttl))!), renewed: true as const };
              throw new AppError("aborted", "LEASE_HELD", `${path} is leased by ${row.holder} until ${new Date(row.expires_at).toISOString()}`, {
                path,
                holder: row.holder,
                expire_time: new Date(row.expires_at).toISOString(),
              });
            }
            expired = toLease(row);
            yield* store.remove(tx, tenant, path);
          }
          const token = yield* store.nextToken(tx);
          const inserted = yield* store.insert(tx, { tenant, path, holder, token, ttl_ms: ttl, acquired_at: now, expires_at: now + ttl });
          if (inserted) return { lease: toLease(inserted), expired, renewed: false as const };
          // PostgreSQL: another instance granted the free path after our read and committed
          // first; read it again (held by another: LEASE_HELD; by this holder: extended).
          if (race >= MAX_INSERT_RACES) {
            throw new AppError("unavailable", "LEASE_CONTENDED", `${path} changed hands too often while being acquired; retry`, { path });
          }
        }
      });
      if ("expired" in outcome && outcome.expired) await emit("expired", outcome.expired);
      await emit(outcome.renewed ? "renewed" : "acquired", outcome.lease);
      return outcome.lease;
    },

    async renew(input) {
      const path = normalizeLeasePath(input.path);
      const token = validateToken(input.fencingToken);
      const ttlIn = input.ttlMs === undefined ? undefined : validateTtl(input.ttlMs);
      const lease = await database.write(function* (tx) {
        const now = clock.now();
        const row = yield* store.lock(tx, tenant, path);
        if (!row || row.token !== token || row.expires_at <= now) throw lost(path, token);
        const ttl = ttlIn ?? row.ttl_ms;
        return toLease((yield* store.extend(tx, tenant, path, now + ttl, ttl))!);
      });
      await emit("renewed", lease);
      return lease;
    },

    async release(input) {
      const path = normalizeLeasePath(input.path);
      const token = validateToken(input.fencingToken);
      const lease = await database.write(function* (tx) {
        const now = clock.now();
        const row = yield* store.lock(tx, tenant, path);
        if (!row || row.token !== token || row.expires_at <= now) throw lost(path, token);
        yield* store.remove(tx, tenant, path);
        return toLease(row);
      });
      await emit("released", lease);
      return lease;
    },

    async get(pathIn) {
      const path = normalizeLeasePath(pathIn);
      const row = await database.read((tx) => store.find(tx, tenant, path));
      return row && row.expires_at > clock.now() ? toLease(row) : undefined;
    },

    async list(input) {
      const prefix = validatePathPrefix(input.prefix);
      const holder = input.holder ? validateHolder(input.holder) : undefined;
      const size = pageSize(input.pageSize);
      const cursor = decodePageToken(input.pageToken, (c): c is { after: string } => typeof c.after === "string");
      const after = cursor?.after ?? "";
      const now = clock.now();
      const rows = await database.read((tx) => store.list(tx, { tenant, prefix, after, now, limit: size + 1, holder }));
      const leases = rows.slice(0, size).map(toLease);
      return { leases, nextPageToken: rows.length > size ? encodePageToken({ after: leases[leases.length - 1]!.path }) : "" };
    },

    watch(input) {
      const prefix = validatePathPrefix(input.prefix);
      const sub = messages.subscribe({ topic: "leases.*", startSequence: input.startSequence || undefined, bufferSize: input.bufferSize });
      async function* run(): AsyncGenerator<LeaseEvent> {
        for await (const m of sub) {
          const event = toEvent(m);
          if (event && event.lease.path.startsWith(prefix)) yield event;
        }
      }
      let iterator: AsyncGenerator<LeaseEvent> | undefined;
      return {
        get lastSequence() {
          return sub.lastSequence;
        },
        close: () => sub.close(),
        [Symbol.asyncIterator]() {
          iterator ??= run();
          return iterator;
        },
      };
    },

    async sweepExpired() {
      const rows = await database.write((tx) => store.takeExpired(tx, clock.now()));
      rows.sort((a, b) => a.token - b.token);
      for (const row of rows) await emit("expired", toLease(row), row.tenant);
      return rows.map(toLease);
    },
  };
}

/** Reads a lease event back from its mail message (undefined for anything else on `leases.*`). */
export function toEvent(m: MailMessage): LeaseEvent | undefined {
  const p = m.payload as Record<string, unknown> | null;
  if (!p || typeof p !== "object" || typeof p.path !== "string") return undefined;
  const type = p.type as LeaseEventType;
  if (!["acquired", "released", "expired", "renewed"].includes(type)) return undefined;
  return {
    sequence: m.sequence,
    type,
    lease: {
      path: p.path,
      holder: String(p.holder ?? ""),
      fencingToken: Number(p.fencing_token ?? 0),
      acquireTime: Date.parse(String(p.acquire_time)),
      expireTime: Date.parse(String(p.expire_time)),
    },
    eventTime: Date.parse(String(p.event_time)),
  };
}

function validateHolder(holder: unknown): string {
  if (typeof holder !== "string" || holder.length === 0) throw invalidArgument("holder", "is required");
  if (holder.length > MAX_HOLDER) throw invalidArgument("holder", `must be at most ${MAX_HOLDER} characters`);
  if (/[\u0000-\u001f\u007f]/.test(holder)) throw invalidArgument("holder", "must not contain control characters");
  return holder;
}

function validateTtl(ttlMs: number | undefined): number {
  if (ttlMs === undefined || ttlMs === 0) return DEFAULT_LEASE_TTL_MS;
  if (!Number.isFinite(ttlMs) || ttlMs < MIN_LEASE_TTL_MS || ttlMs > MAX_LEASE_TTL_MS) {
    throw invalidArgument("ttl", `must be between ${MIN_LEASE_TTL_MS / 1000} s and ${MAX_LEASE_TTL_MS / 3600_000} h`);
  }
  return Math.round(ttlMs);
}

function validateToken(token: unknown): number {
  if (typeof token !== "number" || !Number.isSafeInteger(token) || token < 1) throw invalidArgument("fencing_token", "is required (a positive integer)");
  return token;
}
