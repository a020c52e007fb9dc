import { RateLimiterMemory, type RateLimiterAbstract } from "../core/rate-limiters.ts";
import type { Clock } from "../core/clock.ts";
import { AppError, invalidArgument, notFound } from "../core/errors.ts";
import type { OpDatabase } from "../db/dialect.ts";
import type { Op } from "../db/op.ts";
import type { IssuedSession, Sessions } from "./sessions.ts";
import type { AuthStore, DeviceRow } from "./store.ts";
import { displayUserCode, hashSecret, newDeviceCode, newUserCode, normalizeUserCode } from "./tokens.ts";

/** RFC 8628 figures of seed 002: codes live 15 minutes, the CLI polls every 5 seconds. */
export const DEVICE_CODE_TTL_MS = 15 * 60_000;
export const POLL_INTERVAL_S = 5;
/** RFC 8628 §3.5: each slow_down adds 5 seconds to the interval the client must keep. */
export const SLOW_DOWN_STEP_S = 5;
export const DEVICE_GRANT_TYPE = "urn:ietf:params:oauth:grant-type:device_code";
/** Wrong user codes allowed per caller per minute before RATE_LIMITED. */
export const USER_CODE_ATTEMPTS_PER_MINUTE = 10;

export type DeviceState = "pending" | "authorized" | "denied" | "expired" | "exchanged";

export interface DeviceStart {
  deviceCode: string;
  /** As shown: `WDJB-MJHT`. */
  userCode: string;
  expiresInS: number;
  intervalS: number;
}

/** Who authorizes a device: the session the CLI gets is theirs. */
export interface DeviceOwner {
  tenant: string;
  userId: string;
  roles: string[];
}

const rfc = (reason: string, message: string) => new AppError("failed_precondition", reason, message);

/**
 * The RFC 8628 device authorization grant: start, poll (authorization_pending, slow_down,
 * access_denied, expired_token, then a session once), authorize and deny by user code. Wrong
 * user codes are rate-limited per caller (rate-limiter-flexible: `limiter`, a 60-second window of
 * `USER_CODE_ATTEMPTS_PER_MINUTE` points — on PostgreSQL one every instance shares; default: in
 * memory). Every other state (the code, its answer, the last poll and the widened interval) is in
 * the database, read and locked by each operation, so a poll may reach any instance.
 */
export function createDeviceFlow(deps: { database: OpDatabase; store: AuthStore; sessions: Sessions; clock: Clock; limiter?: RateLimiterAbstract }) {
  const { database, store, sessions, clock } = deps;
  const limiter = deps.limiter ?? new RateLimiterMemory({ points: USER_CODE_ATTEMPTS_PER_MINUTE, duration: 60 });

  function stateOf(row: DeviceRow, now: number): DeviceState {
    if (row.status === "pending" && row.expires_at <= now) return "expired";
    if (row.status === "authorized" && row.expires_at <= now) return "expired";
    return row.status;
  }

  /** Finds a device by user code, counting misses against the caller (brute force). */
  async function byUserCode(input: string, caller: string): Promise<DeviceRow> {
    const seen = await limiter.get(caller);
    if (seen && seen.remainingPoints <= 0) {
      throw new AppError("resource_exhausted", "RATE_LIMITED", `too many wrong user codes; retry in ${Math.ceil(seen.msBeforeNext / 1000)} s`, {
        retry_after_s: String(Math.ceil(seen.msBeforeNext / 1000)),
      });
    }
    if (typeof input !== "string" || input === "") throw invalidArgument("user_code", "is required");
    const code = normalizeUserCode(input);
    const row = code ? await database.read((tx) => store.deviceByUserCode(tx, code)) : undefined;
    if (!row) {
      await limiter.consume(caller).catch(() => undefined);
      throw notFound("USER_CODE_NOT_FOUND", "no device authorization has this code", {});
    }
    return row;
  }

  async function answer(userCode: string, caller: string, status: "authorized" | "denied", owner: DeviceOwner | undefined): Promise<void> {
    const row = await byUserCode(userCode, caller);
    const outcome = await database.write(function* (tx): Op<AppError | undefined> {
      const now = clock.now();
      const current = yield* store.deviceForUpdate(tx, row.device_code_hash);
      if (!current) return notFound("USER_CODE_NOT_FOUND", "no device authorization has this code", {});
      const state = stateOf(current, now);
      if (state === "expired") return rfc("EXPIRED_TOKEN", "the device code expired; start again from the CLI");
      if (state !== "pending") return rfc("DEVICE_ALREADY_ANSWERED", `the device was already ${state}`);
      if (!(yield* store.answerDevice(tx, current.device_code_hash, status, owner))) return rfc("DEVICE_ALREADY_ANSWERED", "the device was already answered");
      return undefined;
    });
    if (outcome) throw outcome;
  }

  return {
    /** Starts an authorization; the device code is returned once and stored as a hash. */
    async start(): Promise<DeviceStart> {
      const deviceCode = newDeviceCode();
      const row = await database.write(function* (tx) {
        const now = clock.now();
        // Old codes go first, so a user code is unique among live ones only.
        yield* store.purgeDevices(tx, now - DEVICE_CODE_TTL_MS);
        for (let i = 0; i < 5; i++) {
          const inserted = yield* store.insertDevice(tx, hashSecret(deviceCode), newUserCode(), POLL_INTERVAL_S, now, now + DEVICE_CODE_TTL_MS);
          if (inserted) return inserted;
        }
        throw new AppError("unavailable", "USER_CODE_SPACE_BUSY", "could not draw a free user code; retry");
      });
      return { deviceCode, userCode: displayUserCode(row!.user_code), expiresInS: DEVICE_CODE_TTL_MS / 1000, intervalS: POLL_INTERVAL_S };
    },

    /**
     * One poll of the CLI (RFC 8628 §3.4–3.5). The poll time is committed before the answer, so
     * slow_down follows the server clock even when the answer is an error.
     */
    async poll(grantType: string, deviceCode: string): Promise<IssuedSession> {
      if (grantType !== DEVICE_GRANT_TYPE) {
        throw new AppError("invalid_argument", "UNSUPPORTED_GRANT_TYPE", `grant_type must be ${DEVICE_GRANT_TYPE}`, { field: "grant_type" });
      }
      if (typeof deviceCode !== "string" || deviceCode === "") throw invalidArgument("device_code", "is required");
      const hash = hashSecret(deviceCode);
      const outcome = await database.write(function* (tx): Op<AppError | IssuedSession> {
        const now = clock.now();
        // Locked: two polls of one code through two instances are answered one after the other.
        const row = yield* store.deviceForUpdate(tx, hash);
        if (!row || row.status === "exchanged") return notFound("DEVICE_CODE_NOT_FOUND", "unknown or already used device code", {});
        const state = stateOf(row, now);
        if (state === "expired") return rfc("EXPIRED_TOKEN", "the device code expired");
        if (state === "denied") return rfc("ACCESS_DENIED", "the user denied the authorization");
        if (row.last_poll_at !== null && now - row.last_poll_at < row.interval_s * 1000) {
          const interval = row.interval_s + SLOW_DOWN_STEP_S;
          yield* store.pollDevice(tx, hash, now, interval);
          return rfc("SLOW_DOWN", `polled faster than every ${row.interval_s} s; poll every ${interval} s`);
        }
        yield* store.pollDevice(tx, hash, now, row.interval_s);
        if (state === "pending") return rfc("AUTHORIZATION_PENDING", "the user has not answered yet");
        const exchanged = yield* store.exchangeDevice(tx, hash);
        if (!exchanged || !exchanged.tenant || !exchanged.user_id) return notFound("DEVICE_CODE_NOT_FOUND", "unknown or already used device code", {});
        return yield* sessions.issue(tx, { tenant: exchanged.tenant, userId: exchanged.user_id, roles: JSON.parse(exchanged.roles ?? "[]") as string[] }, "device");
      });
      if (outcome instanceof AppError) throw outcome;
      return outcome;
    },

    /** The user authorizes the device: the CLI's next poll gets a session of `owner`. */
    authorize: (userCode: string, caller: string, owner: DeviceOwner) => answer(userCode, caller, "authorized", owner),
    /** The user refuses: the CLI's next poll gets access_denied. */
    deny: (userCode: string, caller: string) => answer(userCode, caller, "denied", undefined),

    /** Where a code stands (for the verification page). */
    async lookup(userCode: string, caller: string): Promise<{ userCode: string; state: DeviceState; expiresAt: number }> {
      const row = await byUserCode(userCode, caller);
      return { userCode: displayUserCode(row.user_code), state: stateOf(row, clock.now()), expiresAt: row.expires_at };
    },
  };
}

export type DeviceFlow = ReturnType<typeof createDeviceFlow>;
