import type { JWTVerifyGetKey } from "jose";
import { AppError } from "../core/errors.ts";

/** What a verified ID token says about a person. */
export interface VerifiedIdentity {
  issuer: string;
  subject: string;
  email: string;
  name: string;
  picture: string;
}

export interface IdTokenOptions {
  /** The OAuth client id the token must be issued for (its `aud`); unset: sign-in is off. */
  clientId: string | undefined;
  jwksUrl: string;
  issuers: string[];
  /** Clock skew allowed on exp/iat, seconds. */
  clockSkewS: number;
  /** Tests and other issuers can inject a key set. */
  keys?: JWTVerifyGetKey;
}

const ALGS = ["RS256", "RS384", "RS512", "PS256", "ES256", "ES384", "EdDSA"];

function invalid(why: string): AppError {
  return new AppError("unauthenticated", "GOOGLE_CREDENTIAL_INVALID", `the Google credential was not accepted: ${why}`);
}

/**
 * Verifies Google (or any OIDC issuer's) ID tokens with jose: signature against the issuer's
 * JWKS (fetched and cached by jose), `iss` among the accepted issuers, `aud` the client id,
 * `exp` in the future; asymmetric algorithms only.
 */
export function createIdTokenVerifier(options: IdTokenOptions) {
  let keys = options.keys;
  return {
    enabled: options.clientId !== undefined,
    async verify(credential: string): Promise<VerifiedIdentity> {
      if (!options.clientId) throw new AppError("failed_precondition", "GOOGLE_SIGN_IN_DISABLED", "Google sign-in is not configured (SWITCHYARD_GOOGLE_CLIENT_ID)");
      if (typeof credential !== "string" || credential.length === 0 || credential.length > 16_384) throw invalid("missing or too long");
      // jose is loaded by the first sign-in, not by every server that never offers Google's.
      const { createRemoteJWKSet, errors: joseErrors, jwtVerify } = await import("jose");
      keys ??= createRemoteJWKSet(new URL(options.jwksUrl));
      let payload;
      try {
        ({ payload } = await jwtVerify(credential, keys, { issuer: options.issuers, audience: options.clientId, algorithms: ALGS, clockTolerance: options.clockSkewS, requiredClaims: ["sub", "exp"] }));
      } catch (error) {
        if (error instanceof joseErrors.JWTExpired) throw invalid("expired");
        if (error instanceof joseErrors.JWTClaimValidationFailed) throw invalid(`claim ${error.claim}: ${error.reason}`);
        if (error instanceof joseErrors.JWKSTimeout || !(error instanceof joseErrors.JOSEError)) {
          throw new AppError("unavailable", "IDENTITY_PROVIDER_UNAVAILABLE", "the identity provider's keys could not be fetched; retry");
        }
        throw invalid("bad signature, unknown key or malformed token");
      }
      if (payload.email_verified === false) throw invalid("the email address is not verified");
      const str = (v: unknown) => (typeof v === "string" ? v : "");
      return { issuer: str(payload.iss), subject: str(payload.sub), email: str(payload.email), name: str(payload.name), picture: str(payload.picture) };
    },
  };
}

export type IdTokenVerifier = ReturnType<typeof createIdTokenVerifier>;
