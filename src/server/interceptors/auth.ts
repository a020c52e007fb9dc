import { createHash, timingSafeEqual } from "node:crypto";
import { readFileSync } from "node:fs";
import type { DescMethod } from "@bufbuild/protobuf";
import { createContextKey, type ContextValues, type HandlerContext } from "@connectrpc/connect";
import type { JSONWebKeySet, JWTPayload, JWTVerifyGetKey } from "jose";
import type { AuthConfig } from "../../config.ts";
import { AppError } from "../../core/errors.ts";
import { ANONYMOUS, DEFAULT_TENANT, principalKey, type Principal } from "../../core/principal.ts";
import { methodPolicy, type AccessPolicy } from "../policy.ts";

const digest = (s: string) => createHash("sha256").update(s).digest();

/** Constant-time equality of two strings (compares fixed-length digests). */
function sameSecret(a: string, b: string): boolean {
  return timingSafeEqual(digest(a), digest(b));
}

/** The credential of an `Authorization: Bearer <token>` header; undefined when absent or not Bearer. */
export function bearerToken(header: string | null | undefined): string | undefined {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header?.trim() ?? "");
  return match ? match[1] : undefined;
}

/** True when `header` is `Bearer <token>`; compares in constant time. */
export function bearerMatches(header: string | null | undefined, token: string): boolean {
  const given = bearerToken(header);
  return given !== undefined && sameSecret(given, token);
}

/** Why a credential was refused; rides as `metadata.cause` of the UNAUTHENTICATED error. */
export type AuthCause = "TOKEN_MISSING" | "TOKEN_INVALID" | "TOKEN_EXPIRED" | "SESSION_REVOKED";

const MESSAGES: Record<AuthCause, string> = {
  TOKEN_MISSING: "missing bearer token",
  TOKEN_INVALID: "missing or invalid bearer token",
  TOKEN_EXPIRED: "the bearer token expired",
  SESSION_REVOKED: "the session was revoked or expired",
};

/** The one error of a refused credential, on every protocol (each family renders its body). */
export function unauthenticated(cause: AuthCause, detail?: string): AppError {
  return new AppError("unauthenticated", "UNAUTHENTICATED", detail ? `${MESSAGES[cause]}: ${detail}` : MESSAGES[cause], { cause });
}

/** Looks up an opaque Switchyard session token (sign-in, device flow); undefined when unknown. */
export type SessionLookup = (token: string) => Principal | undefined | Promise<Principal | undefined>;

export interface ResolverOptions {
  apiToken: string | undefined;
  auth: AuthConfig;
  /** Tests inject a fetch-free key set; default: from the configured URL or file. */
  jwks?: JWTVerifyGetKey;
}

/**
 * Maps the credential of a call to its principal: a static token (SWITCHYARD_API_TOKEN or a
 * named service token), a JWT (HS256 with the configured secret; RS/ES/EdDSA against the JWKS),
 * or a Switchyard session. One resolver serves gRPC, gRPC-Web, Connect, REST, legacy routes and
 * WebSocket upgrades.
 */
export interface PrincipalResolver {
  /** No static token, service token or JWT key is configured: anonymous callers may do anything. */
  readonly open: boolean;
  /** Resolves a bearer token; throws UNAUTHENTICATED (with a cause) when it is not valid. */
  resolveToken(token: string): Promise<Principal>;
  /** Resolves an Authorization header; no header → ANONYMOUS. */
  resolve(authorization: string | null | undefined): Promise<Principal>;
  /** Sessions come from the auth domain, which registers its lookup once built. */
  useSessions(lookup: SessionLookup): void;
  /**
   * Loads the JWT library and builds the key set when a JWT key is configured (else does
   * nothing): the server calls it at startup, so a malformed JWKS file stops it there, and a
   * server without JWTs never loads jose. The first JWT would do it otherwise.
   */
  prepare(): Promise<void>;
}

const HS_ALGS = ["HS256", "HS384", "HS512"];
const ASYMMETRIC_ALGS = ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA", "Ed25519"];
const JWT_SHAPE = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;
const TENANT = /^[A-Za-z0-9][A-Za-z0-9_-]{0,62}$/;

export function createPrincipalResolver(options: ResolverOptions): PrincipalResolver {
  const { auth, apiToken } = options;
  const statics: { token: string; principal: Principal }[] = [];
  if (apiToken) statics.push({ token: apiToken, principal: { kind: "static_token", tenant: auth.apiTokenTenant, user: "", roles: ["admin"] } });
  for (const s of auth.serviceTokens) statics.push({ token: s.token, principal: { kind: "service_token", tenant: s.tenant, user: `service:${s.name}`, roles: s.roles } });
  const hsKey = auth.jwtSecret ? new TextEncoder().encode(auth.jwtSecret) : undefined;
  // The file is read and parsed now (a missing or non-JSON file is a startup error); jose, and
  // the key set it builds, come with prepare().
  const jwksFile = !options.jwks && !auth.jwksUrl && auth.jwksFile ? (JSON.parse(readFileSync(auth.jwksFile, "utf8")) as JSONWebKeySet) : undefined;
  const jwtConfigured = !!(hsKey || options.jwks || auth.jwksUrl || jwksFile);
  let jose: Promise<{ lib: typeof import("jose"); jwks: JWTVerifyGetKey | undefined }> | undefined;
  const loadJose = () =>
    (jose ??= import("jose").then((lib) => ({
      lib,
      jwks: options.jwks ?? (auth.jwksUrl ? lib.createRemoteJWKSet(new URL(auth.jwksUrl)) : jwksFile ? lib.createLocalJWKSet(jwksFile) : undefined),
    })));
  let sessions: SessionLookup | undefined;
  const open = statics.length === 0 && !jwtConfigured;
  // Workers send the same JWT on every call: a verified token is remembered until its `exp`
  // (at most a minute), so the signature is not checked again on the hot path.
  const verified = new Map<string, { principal: Principal; until: number }>();
  const MAX_CACHED = 10_000;

  function claimsToPrincipal(claims: JWTPayload): Principal {
    const rawRoles = claims.roles ?? (claims.role === undefined ? [] : [claims.role]);
    if (!Array.isArray(rawRoles) || !rawRoles.every((r) => typeof r === "string")) throw unauthenticated("TOKEN_INVALID", "roles must be an array of strings");
    const tenantClaim = claims[auth.jwtTenantClaim];
    const tenant = tenantClaim === undefined ? DEFAULT_TENANT : tenantClaim;
    if (typeof tenant !== "string" || !TENANT.test(tenant)) throw unauthenticated("TOKEN_INVALID", `${auth.jwtTenantClaim} is not a tenant name`);
    const user = claims.sub ?? claims.userId ?? claims.user_id ?? claims.id ?? "";
    return { kind: "jwt", tenant, user: String(user), roles: rawRoles as string[] };
  }

  /** The principal of a verified JWT and its `exp` (seconds), if any. */
  async function verifyJwt(token: string): Promise<{ principal: Principal; exp: number | undefined }> {
    const { lib, jwks } = await loadJose();
    const { jwtVerify, errors: joseErrors } = lib;
    const verifiedBy = (payload: JWTPayload) => ({ principal: claimsToPrincipal(payload), exp: payload.exp });
    let alg: string | undefined;
    try {
      alg = lib.decodeProtectedHeader(token).alg;
    } catch {
      throw unauthenticated("TOKEN_INVALID", "malformed JWT header");
    }
    const verifyOptions = { issuer: auth.jwtIssuer, audience: auth.jwtAudience, clockTolerance: auth.jwtClockSkewS };
    try {
      // The key is chosen by the header's family and each family accepts only its own
      // algorithms, so `alg: none` and HS-signed-with-the-public-key (RFC 8725 §2.1) fail.
      if (alg && HS_ALGS.includes(alg) && hsKey) return verifiedBy((await jwtVerify(token, hsKey, { ...verifyOptions, algorithms: HS_ALGS })).payload);
      if (alg && ASYMMETRIC_ALGS.includes(alg) && jwks) return verifiedBy((await jwtVerify(token, jwks, { ...verifyOptions, algorithms: ASYMMETRIC_ALGS })).payload);
    } catch (error) {
      if (error instanceof AppError) throw error;
      if (error instanceof joseErrors.JWTExpired) throw unauthenticated("TOKEN_EXPIRED");
      if (error instanceof joseErrors.JWTClaimValidationFailed) throw unauthenticated("TOKEN_INVALID", `claim ${error.claim} is not valid (${error.reason})`);
      if (error instanceof joseErrors.JWKSTimeout || !(error instanceof joseErrors.JOSEError)) {
        // The key set could not be fetched: our dependency failed, not the caller's token.
        throw new AppError("unavailable", "JWKS_UNAVAILABLE", "the JWT key set could not be fetched; retry");
      }
      throw unauthenticated("TOKEN_INVALID", "signature or key not accepted");
    }
    throw unauthenticated("TOKEN_INVALID", `algorithm ${String(alg)} is not accepted`);
  }

  async function resolveToken(token: string): Promise<Principal> {
    for (const s of statics) if (sameSecret(token, s.token)) return s.principal;
    if (JWT_SHAPE.test(token)) {
      const now = Date.now();
      const hit = verified.get(token);
      if (hit && hit.until > now) return hit.principal;
      const { principal, exp } = await verifyJwt(token);
      if (verified.size >= MAX_CACHED) verified.clear();
      verified.set(token, { principal, until: Math.min(now + 60_000, typeof exp === "number" ? exp * 1000 : now + 60_000) });
      return principal;
    }
    const session = sessions ? await sessions(token) : undefined;
    if (session) return session;
    throw unauthenticated("TOKEN_INVALID");
  }

  return {
    open,
    resolveToken,
    async resolve(authorization) {
      if (authorization === null || authorization === undefined || authorization.trim() === "") return ANONYMOUS;
      const token = bearerToken(authorization);
      if (token === undefined) throw unauthenticated("TOKEN_INVALID", "expected Authorization: Bearer <token>");
      return resolveToken(token);
    },
    useSessions(lookup) {
      sessions = lookup;
    },
    async prepare() {
      if (jwtConfigured) await loadJose();
    },
  };
}

/**
 * Applies a policy to a resolved principal: throws UNAUTHENTICATED for an anonymous caller where
 * a principal is needed, PERMISSION_DENIED (seed 001's "Admin role required") for a missing role.
 * An open server (nothing configured) lets anonymous callers through every policy.
 */
export function authorize(principal: Principal, policy: AccessPolicy, open: boolean): void {
  if (policy === "public") return;
  if (principal.kind === "anonymous") {
    if (open) return;
    throw unauthenticated("TOKEN_MISSING");
  }
  if (policy === "admin" && !principal.roles.includes("admin")) {
    throw new AppError("permission_denied", "ADMIN_ROLE_REQUIRED", "Admin role required");
  }
  if (policy === "internal" && !(principal.kind === "static_token" || principal.kind === "service_token" || principal.roles.includes("internal"))) {
    throw new AppError("permission_denied", "INTERNAL_ONLY", "this call is for other services only");
  }
}

/** Set by a legacy route declared public while it calls its own RPC: that RPC does not check its policy. */
export const policyCheckedKey = createContextKey<boolean>(false, { description: "policy already enforced by a legacy route" });
/** Set once the principal of a request is resolved, so in-process calls do not resolve again. */
const resolvedKey = createContextKey<boolean>(false, { description: "principal resolved" });

/**
 * Resolves the principal of a request once (a legacy route and the RPCs it calls share the
 * context values) and stores it under `principalKey`. On a public RPC, and on an open server,
 * a bad credential is ignored (health probes with stale tokens stay green); elsewhere it is
 * refused.
 */
export async function principalFor(resolver: PrincipalResolver, values: ContextValues, authorization: string | null, policy: AccessPolicy): Promise<Principal> {
  if (values.get(resolvedKey)) return values.get(principalKey);
  let principal: Principal;
  try {
    principal = await resolver.resolve(authorization);
  } catch (error) {
    // An open server lets anonymous callers do anything, so a stale token there is no reason to
    // refuse a client that always sends one (single-tenant deployments notice nothing).
    if (policy !== "public" && !resolver.open) throw error;
    principal = ANONYMOUS;
  }
  values.set(principalKey, principal);
  values.set(resolvedKey, true);
  return principal;
}

/**
 * The Connect request gate: resolves the principal and enforces the RPC's
 * `(switchyard.api.v1.policy)` before the request body is read, on every protocol.
 */
export function createAuthGate(resolver: PrincipalResolver): (ctx: HandlerContext) => Promise<void> {
  const policies = new WeakMap<DescMethod, AccessPolicy>();
  return async (ctx) => {
    let policy = policies.get(ctx.method);
    if (policy === undefined) {
      policy = methodPolicy(ctx.method);
      policies.set(ctx.method, policy);
    }
    const principal = await principalFor(resolver, ctx.values, ctx.requestHeader.get("authorization"), policy);
    if (!ctx.values.get(policyCheckedKey)) authorize(principal, policy, resolver.open);
  };
}

/**
 * The principal of a WebSocket handshake: `Authorization: Bearer` or, where a seed says so,
 * `?token=`. Throws UNAUTHENTICATED when the route's policy is not met.
 */
export async function authenticateUpgrade(resolver: PrincipalResolver, headers: { authorization?: string | string[] }, url: URL, policy: AccessPolicy = "authenticated"): Promise<Principal> {
  const header = typeof headers.authorization === "string" ? headers.authorization : undefined;
  const query = url.searchParams.get("token");
  let principal: Principal;
  try {
    principal = header ? await resolver.resolve(header) : query ? await resolver.resolveToken(query) : ANONYMOUS;
  } catch (error) {
    if (!resolver.open) throw error;
    principal = ANONYMOUS;
  }
  authorize(principal, policy, resolver.open);
  return principal;
}
