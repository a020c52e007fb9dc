import type { JWTVerifyGetKey } from "jose";
import type { AuthConfig } from "../config.ts";
import type { Clock } from "../core/clock.ts";
import type { SecretBox } from "../core/secret-box.ts";
import type { Database } from "../db/client.ts";
import { RateLimiterMemory, type RateLimiterAbstract } from "../core/rate-limiters.ts";
import type { OpDatabase } from "../db/dialect.ts";
import type { PgDatabase } from "../db/open.ts";
import { postgresRateLimitStore } from "../edge/postgres-store.ts";
import { createApiKeys, type ApiKeys } from "./api-keys.ts";
import { createDeviceFlow, USER_CODE_ATTEMPTS_PER_MINUTE, type DeviceFlow } from "./device-flow.ts";
import { createIdTokenVerifier, type IdTokenVerifier, type VerifiedIdentity } from "./id-tokens.ts";
import { createSessions, type IssuedSession, type Sessions } from "./sessions.ts";
import { createPgAuthStore, createSqliteAuthStore, type AuthStore } from "./store.ts";
import { createUsers, type User, type Users } from "./users.ts";

/** The identity domain: users, sessions, the device flow, ID-token sign-in and API keys. */
export interface Auth {
  users: Users;
  sessions: Sessions;
  deviceFlow: DeviceFlow;
  apiKeys: ApiKeys;
  idTokens: IdTokenVerifier;
  /** Verifies a Google/OIDC ID token, creates the user on first login, opens a 30-day session. */
  signIn(credential: string): Promise<IssuedSession & { user: User }>;
  /** Finds or creates the user of a verified identity (committed). */
  upsertUser(identity: VerifiedIdentity): Promise<User>;
  /** Deletes sessions and device codes that ended more than a day ago; returns how many. */
  purge(): Promise<number>;
}

export interface AuthDeps {
  /** SQLite (`sqlite` is used for its prepared statements) or PostgreSQL (`pg.sql` for the shared limiter). */
  database: OpDatabase & { sqlite?: unknown };
  clock: Clock;
  secrets: SecretBox;
  config: AuthConfig;
  /** Key set for ID tokens (tests); default: fetched from config.googleJwksUrl. */
  idTokenKeys?: JWTVerifyGetKey;
}

export function createAuth(deps: AuthDeps): Auth {
  const { database, clock, config } = deps;
  const store: AuthStore = database.dialect === "sqlite" ? createSqliteAuthStore((database as Database).sqlite) : createPgAuthStore();
  const users = createUsers({ database, store, clock, tenant: config.googleTenant });
  const sessions = createSessions({ database, store, clock });
  const idTokens = createIdTokenVerifier({
    clientId: config.googleClientId,
    jwksUrl: config.googleJwksUrl,
    issuers: config.googleIssuers,
    clockSkewS: config.jwtClockSkewS,
    keys: deps.idTokenKeys,
  });
  return {
    users,
    sessions,
    idTokens,
    deviceFlow: createDeviceFlow({ database, store, sessions, clock, limiter: codeAttemptLimiter(database) }),
    apiKeys: createApiKeys({ database, store, clock, secrets: deps.secrets }),
    purge: () =>
      database.write(function* (tx) {
        // Every instance's hourly timer calls this; one at a time does the work.
        if (!(yield* store.tryUpkeep(tx, "auth.purge"))) return 0;
        const before = clock.now() - 86_400_000;
        return (yield* store.purgeSessions(tx, before)) + (yield* store.purgeDevices(tx, before));
      }),
    upsertUser: (identity) => database.write((tx) => users.upsert(tx, identity)),
    async signIn(credential) {
      const identity = await idTokens.verify(credential);
      return database.write(function* (tx) {
        const user = yield* users.upsert(tx, identity);
        return { ...(yield* sessions.issue(tx, { tenant: user.tenant, userId: user.id, roles: user.roles }, "google")), user };
      });
    },
  };
}

/**
 * The device flow's brute-force counter: on PostgreSQL in `auth_code_attempts`, shared by every
 * instance (a caller gets 10 wrong codes a minute in all, whichever instances it reaches); on
 * SQLite (one process) in memory.
 */
function codeAttemptLimiter(database: OpDatabase): RateLimiterAbstract {
  const options = { keyPrefix: "device-code", points: USER_CODE_ATTEMPTS_PER_MINUTE, durationSec: 60 };
  if (database.dialect === "postgres") return postgresRateLimitStore((database as PgDatabase).pg.sql, { tableName: "auth_code_attempts" }).create(options);
  return new RateLimiterMemory({ keyPrefix: options.keyPrefix, points: options.points, duration: options.durationSec });
}
