import { createHash, randomBytes, randomInt } from "node:crypto";

/** A fresh opaque bearer token: `sy_` + 32 random bytes, base64url (no dots: never mistaken for a JWT). */
export function newSessionToken(): string {
  return `sy_${randomBytes(32).toString("base64url")}`;
}

/** A fresh RFC 8628 device code (secret, polled by the CLI). */
export function newDeviceCode(): string {
  return randomBytes(32).toString("base64url");
}

/** What is stored for a token or device code: its SHA-256, hex. */
export function hashSecret(secret: string): string {
  return createHash("sha256").update(secret).digest("hex");
}

/**
 * RFC 8628 §6.1: consonants only (no vowels: no words; no 0/O or 1/I to confuse), 8 of them
 * = 20^8 ≈ 2.6e10 codes, shown as `WDJB-MJHT`.
 */
const USER_CODE_ALPHABET = "BCDFGHJKLMNPQRSTVWXZ";
export const USER_CODE_LENGTH = 8;

export function newUserCode(): string {
  let code = "";
  for (let i = 0; i < USER_CODE_LENGTH; i++) code += USER_CODE_ALPHABET[randomInt(USER_CODE_ALPHABET.length)];
  return code;
}

/** Case, spaces and dashes are ignored; undefined when it cannot be a user code. */
export function normalizeUserCode(input: string): string | undefined {
  const code = input.toUpperCase().replace(/[\s-]/g, "");
  if (code.length !== USER_CODE_LENGTH) return undefined;
  for (const c of code) if (!USER_CODE_ALPHABET.includes(c)) return undefined;
  return code;
}

/** `WDJBMJHT` → `WDJB-MJHT`. */
export const displayUserCode = (code: string) => `${code.slice(0, 4)}-${code.slice(4)}`;
