import type { Clock } from "../core/clock.ts";
import { newId } from "../core/ids.ts";
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
export function createUsers(deps: { store: AuthStore; clock: Clock; tenant: string }) {
  const { store, clock } = deps;
  return {
    /** Finds or creates the user of a verified identity (inside a transaction); profile fields follow the provider. */
    upsert(identity: VerifiedIdentity): User {
      const now = clock.now();
      const issuer = canonicalIssuer(identity.issuer);
      const existing = store.userByIdentity(issuer, identity.subject);
      const profile = { email: identity.email, name: identity.name, picture: identity.picture };
      if (existing) {
        const same = existing.email === profile.email && existing.name === profile.name && existing.picture === profile.picture;
        return toUser(same ? existing : store.updateUser(existing.id, profile, now));
      }
      return toUser(store.insertUser({ id: newId("user", now), tenant: deps.tenant, issuer, subject: identity.subject, ...profile }, now));
    },
    /** A user of a tenant; undefined when unknown there. */
    get(tenant: string, id: string): User | undefined {
      const row = store.userById(tenant, id);
      return row ? toUser(row) : undefined;
    },
  };
}

export type Users = ReturnType<typeof createUsers>;
