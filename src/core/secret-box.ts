/**
 * Secrets at rest: AES-256-GCM (WebCrypto) under the key from `SWITCHYARD_SECRET_KEY`, a fresh
 * 96-bit nonce per value. Sealed text is `v1:<key id>:<nonce b64url>:<ciphertext+tag b64url>`,
 * so a rotated key can still open what the previous one sealed (pass it in `previous`).
 */
export interface SecretBox {
  seal(plaintext: string, context?: string): Promise<string>;
  open(sealed: string, context?: string): Promise<string>;
  /** Last 4 characters behind a mask, for lists that must never show the value. */
  mask(plaintext: string): string;
}

export class SecretBoxError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "SecretBoxError";
  }
}

const b64url = (bytes: Uint8Array<ArrayBuffer>) => Buffer.from(bytes).toString("base64url");
const unb64url = (text: string): Uint8Array<ArrayBuffer> => Uint8Array.from(Buffer.from(text, "base64url"));

/** Decodes a configured key: 32 bytes as base64/base64url or 64 hex characters. */
export function decodeSecretKey(text: string): Uint8Array<ArrayBuffer> {
  const t = text.trim();
  const bytes = /^[0-9a-fA-F]{64}$/.test(t) ? Uint8Array.from(Buffer.from(t, "hex")) : Uint8Array.from(Buffer.from(t, "base64"));
  if (bytes.length !== 32) throw new SecretBoxError(`secret key must be 32 bytes (64 hex or 44 base64 characters), got ${bytes.length}`);
  return bytes;
}

async function keyId(raw: Uint8Array<ArrayBuffer>): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", raw));
  return b64url(digest.slice(0, 6));
}

/** Builds a secret box from the current key and any previous keys (for rotation). */
export async function createSecretBox(current: Uint8Array<ArrayBuffer>, previous: Uint8Array<ArrayBuffer>[] = []): Promise<SecretBox> {
  const keys = new Map<string, CryptoKey>();
  const importKey = (raw: Uint8Array<ArrayBuffer>) => crypto.subtle.importKey("raw", raw, "AES-GCM", false, ["encrypt", "decrypt"]);
  const currentId = await keyId(current);
  keys.set(currentId, await importKey(current));
  for (const raw of previous) keys.set(await keyId(raw), await importKey(raw));
  const aad = (context: string | undefined) => new TextEncoder().encode(context ?? "");
  return {
    async seal(plaintext, context) {
      const nonce = crypto.getRandomValues(new Uint8Array(12));
      const sealed = await crypto.subtle.encrypt(
        { name: "AES-GCM", iv: nonce, additionalData: aad(context) },
        keys.get(currentId)!,
        new TextEncoder().encode(plaintext),
      );
      return `v1:${currentId}:${b64url(nonce)}:${b64url(new Uint8Array(sealed))}`;
    },
    async open(sealed, context) {
      const parts = sealed.split(":");
      if (parts.length !== 4 || parts[0] !== "v1") throw new SecretBoxError("not a sealed secret");
      const key = keys.get(parts[1]!);
      if (!key) throw new SecretBoxError(`sealed under an unknown key ${parts[1]}`);
      try {
        const plain = await crypto.subtle.decrypt({ name: "AES-GCM", iv: unb64url(parts[2]!), additionalData: aad(context) }, key, unb64url(parts[3]!));
        return new TextDecoder().decode(plain);
      } catch {
        throw new SecretBoxError("secret could not be opened (wrong key or tampered)");
      }
    },
    mask(plaintext) {
      return plaintext.length <= 4 ? "****" : `****${plaintext.slice(-4)}`;
    },
  };
}

/**
 * The secret box of a deployment: the configured key, or one generated once into
 * `<dataDir>/secret.key` (mode 0600) so a machine with no configuration still never stores a
 * plaintext secret. Several instances must share one configured key.
 */
export async function loadSecretBox(options: { secretKey: Uint8Array<ArrayBuffer> | undefined; previousSecretKeys: Uint8Array<ArrayBuffer>[]; dataDir: string }): Promise<SecretBox> {
  if (options.secretKey) return createSecretBox(options.secretKey, options.previousSecretKeys);
  const { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, statSync, writeSync } = await import("node:fs");
  const { join } = await import("node:path");
  const file = join(options.dataDir, "secret.key");
  // An empty file can only be a creation that a crash interrupted (the key is fsync'd before
  // anything is sealed with it), so it is made again.
  if (!existsSync(file) || statSync(file).size === 0) {
    mkdirSync(options.dataDir, { recursive: true });
    const tmp = `${file}.${process.pid}.tmp`;
    const fd = openSync(tmp, "w", 0o600);
    writeSync(fd, Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString("hex") + "\n");
    fsyncSync(fd);
    closeSync(fd);
    renameSync(tmp, file);
    const dir = openSync(options.dataDir, "r");
    fsyncSync(dir);
    closeSync(dir);
  }
  return createSecretBox(decodeSecretKey(readFileSync(file, "utf8")), options.previousSecretKeys);
}
