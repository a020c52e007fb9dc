import { exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK, type JWTPayload } from "jose";

/** A signing key of a test issuer, with its public JWK (kid set). */
export interface TestKey {
  alg: string;
  kid: string;
  privateKey: CryptoKey;
  publicJwk: JWK;
}

export async function makeKey(alg: "RS256" | "ES256" | "EdDSA", kid: string): Promise<TestKey> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  const publicJwk = { ...(await exportJWK(publicKey)), kid, alg, use: "sig" };
  return { alg, kid, privateKey, publicJwk };
}

/** Signs a JWT with a test key; `exp`, `nbf`, `iat` are taken from `claims` as given (seconds). */
export function signWith(key: TestKey, claims: JWTPayload): Promise<string> {
  return new SignJWT(claims).setProtectedHeader({ alg: key.alg, kid: key.kid, typ: "JWT" }).sign(key.privateKey);
}

/** Signs HS256 the way seed 001's generate-jwt.js does (jsonwebtoken defaults: iat set). */
export function signHs256(secret: string, claims: JWTPayload): Promise<string> {
  return new SignJWT({ iat: Math.floor(Date.now() / 1000), ...claims }).setProtectedHeader({ alg: "HS256", typ: "JWT" }).sign(new TextEncoder().encode(secret));
}

/** An unsigned token (`alg: none`), which every verifier must refuse. */
export function unsignedToken(claims: JWTPayload): string {
  const b64 = (o: object) => Buffer.from(JSON.stringify(o)).toString("base64url");
  return `${b64({ alg: "none", typ: "JWT" })}.${b64(claims)}.`;
}

/** A local JWKS endpoint: serves each path's public keys, like Google's `oauth2/v3/certs`. */
export function startJwksServer(sets: Record<string, TestKey[]>): { url: string; stop(): void } {
  const server = Bun.serve({
    port: 0,
    hostname: "127.0.0.1",
    fetch(req) {
      const keys = sets[new URL(req.url).pathname];
      if (!keys) return new Response("not found", { status: 404 });
      return Response.json({ keys: keys.map((k) => k.publicJwk) });
    },
  });
  return { url: `http://127.0.0.1:${server.port}`, stop: () => server.stop(true) };
}

export const nowS = () => Math.floor(Date.now() / 1000);
