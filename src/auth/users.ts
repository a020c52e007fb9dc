import type { Clock } from "../core/clock.ts";
import { newId } from "../core/ids.ts";
import type { OpDatabase, Tx } from "../db/dialect.ts";
import type { Op } from "../db/op.ts";
import type { AuthStore, UserRow } from "./store.ts";
import type { VerifiedIdentity } from "./id-tokens.ts";

export interface User {
  id: string;
  tenant: string;
  email: string;
  name: string;
  picture: string;
  roles: string[];
}

export const toUser = (r: UserRow): User => ({ id: r.id, tenant: r.tenant, email: r.email, name: r.name, picture: r.picture, roles: JSON.parse(r.roles) as string[] });

/** Google's two spellings of its issuer name one identity. */
const canonicalIssuer = (iss: string) => (iss === "accounts.google.com" ? "https://accounts.google.com" : iss);

/** Users: found by (issuer, subject), created on first sign-in in the configured tenant. */
export function createUsers(deps: { database: OpDatabase; store: AuthStore; clock: Clock; tenant: string }) {
  const { database, store, clock } = deps;
  return {
    /** Finds or creates the user of a verified identity (an operation inside a write); profile fields follow the provider. */
    *upsert(tx: Tx, identity: VerifiedIdentity): Op<User> {
      const now = clock.now();
      const issuer = canonicalIssuer(identity.issuer);
      const existing = yield* store.userByIdentity(tx, issuer, identity.subject);
      const profile = { email: identity.email, name: identity.name, picture: identity.picture };
      if (existing) {
        const same = existing.email === profile.email && existing.name === profile.name && existing.picture === profile.picture;
        return toUser(same ? existing : yield* store.updateUser(tx, existing.id, profile, now));
      }
      return toUser(yield* store.insertUser(tx, { id: newId("user", now), tenant: deps.tenant, issuer, subject: identity.subject, ...profile }, now));
    },
    /** A user of a tenant; undefined when unknown there. */
    async get(tenant: string, id: string): Promise<User | undefined> {
      const row = await database.read((tx) => store.userById(tx, tenant, id));
      return row ? toUser(row) : undefined;
    },
  };
}

export type Users = ReturnType<typeof createUsers>;
