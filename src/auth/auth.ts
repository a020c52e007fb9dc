import type { JWTVerifyGetKey } from "jose";
import type { AuthConfig } from "../config.ts";
import type { Clock } from "../core/clock.ts";
import type { SecretBox } from "../core/secret-box.ts";
import type { Database } from "../db/client.ts";
import { createApiKeys, type ApiKeys } from "./api-keys.ts";
import { createDeviceFlow, type DeviceFlow } from "./device-flow.ts";
import { createIdTokenVerifier, type IdTokenVerifier, type VerifiedIdentity } from "./id-tokens.ts";
import { createSessions, type IssuedSession, type Sessions } from "./sessions.ts";
import { createAuthStore } from "./store.ts";
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
  database: Database;
  clock: Clock;
  secrets: SecretBox;
  config: AuthConfig;
  /** Key set for ID tokens (tests); default: fetched from config.googleJwksUrl. */
  idTokenKeys?: JWTVerifyGetKey;
}

export function createAuth(deps: AuthDeps): Auth {
  const { database, clock, config } = deps;
  const store = createAuthStore(database.sqlite);
  const users = createUsers({ store, clock, tenant: config.googleTenant });
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
    deviceFlow: createDeviceFlow({ database, store, sessions, clock }),
    apiKeys: createApiKeys({ database, store, clock, secrets: deps.secrets }),
    purge: () =>
      database.committer.run(() => {
        const before = clock.now() - 86_400_000;
        return store.purgeSessions(before) + store.purgeDevices(before);
      }),
    upsertUser: (identity) => database.committer.run(() => users.upsert(identity)),
    async signIn(credential) {
      const identity = await idTokens.verify(credential);
      return database.committer.run(() => {
        const user = users.upsert(identity);
        return { ...sessions.issue({ tenant: user.tenant, userId: user.id, roles: user.roles }, "google"), user };
      });
    },
  };
}
