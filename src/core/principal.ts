import { createContextKey, type HandlerContext } from "@connectrpc/connect";

/** How a caller proved who it is. */
export type PrincipalKind = "anonymous" | "static_token" | "service_token" | "jwt" | "session";

/**
 * Who is calling: resolved once per call by the auth interceptor, on every protocol (gRPC,
 * gRPC-Web, Connect, REST and legacy routes, which reach the RPCs in-process with the caller's
 * headers). Domains only ever see `tenant` (and `user` where they record an owner).
 */
export interface Principal {
  kind: PrincipalKind;
  /** Every resource belongs to a tenant; another tenant's resource is NOT_FOUND. */
  tenant: string;
  /** User id, when the caller is a user (JWT subject, session user); else "". */
  user: string;
  roles: string[];
}

/** The tenant of single-tenant deployments and of static tokens unless configured otherwise. */
export const DEFAULT_TENANT = "default";

export const ANONYMOUS: Principal = Object.freeze({ kind: "anonymous", tenant: DEFAULT_TENANT, user: "", roles: [] }) as Principal;

/** Where the auth interceptor leaves the principal of a call (Connect context values). */
export const principalKey = createContextKey<Principal>(ANONYMOUS, { description: "switchyard principal" });

/** The principal of a call (anonymous in the default tenant until the auth interceptor sets one). */
export function principalOf(ctx: Pick<HandlerContext, "values">): Principal {
  return ctx.values.get(principalKey);
}

/** The tenant a service method must scope every read and write to. */
export function tenantOf(ctx: Pick<HandlerContext, "values">): string {
  return ctx.values.get(principalKey).tenant;
}
