import type { Clock } from "../core/clock.ts";
import { AppError, invalidArgument, notFound } from "../core/errors.ts";
import { newId } from "../core/ids.ts";
import type { SecretBox } from "../core/secret-box.ts";
import type { OpDatabase } from "../db/dialect.ts";
import type { ApiKeyRow, AuthStore } from "./store.ts";

export interface ApiKey {
  id: string;
  userId: string;
  provider: string;
  keyName: string;
  /** Never the value: all but the last 4 characters masked. */
  maskedValue: string;
  createdAt: number;
  updatedAt: number;
}

const PROVIDER = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;
const MAX_KEY = 4096;

/** `openai` → `OPENAI_API_KEY`, `google-vertex` → `GOOGLE_VERTEX_API_KEY`. */
export const envNameOf = (provider: string) => `${provider.toUpperCase().replace(/[^A-Z0-9]/g, "_")}_API_KEY`;
/** Every character but the last 4 replaced by `*` (at least 4 stars, so short keys show nothing). */
export const maskKey = (value: string) => (value.length <= 4 ? "****" : "*".repeat(value.length - 4) + value.slice(-4));

const toKey = (r: ApiKeyRow): ApiKey => ({ id: r.id, userId: r.user_id, provider: r.provider, keyName: r.key_name, maskedValue: r.masked, createdAt: r.created_at, updatedAt: r.updated_at });
/** The sealed value is bound to its owner: a row copied to another user or tenant does not open. */
const aad = (tenant: string, userId: string, provider: string) => `api-key:${tenant}:${userId}:${provider}`;

/** A user's LLM provider API keys, sealed at rest with the server's SecretBox (AES-256-GCM). */
export function createApiKeys(deps: { database: OpDatabase; store: AuthStore; clock: Clock; secrets: SecretBox }) {
  const { database, store, clock, secrets } = deps;
  return {
    async set(tenant: string, userId: string, provider: string, value: string): Promise<ApiKey> {
      if (typeof provider !== "string" || !PROVIDER.test(provider)) throw invalidArgument("provider", "must be 1–64 letters, digits, '_', '.' or '-'");
      if (typeof value !== "string" || value.length === 0) throw invalidArgument("key_value", "is required");
      if (value.length > MAX_KEY) throw invalidArgument("key_value", `must be at most ${MAX_KEY} characters`);
      const name = provider.toLowerCase();
      const sealed = await secrets.seal(value, aad(tenant, userId, name));
      const row = await database.write((tx) =>
        store.upsertKey(tx, { id: newId("apikey", clock.now()), tenant, userId, provider: name, keyName: envNameOf(name), sealed, masked: maskKey(value) }, clock.now()),
      );
      return toKey(row);
    },
    list: async (tenant: string, userId: string): Promise<ApiKey[]> => (await database.read((tx) => store.keysOfUser(tx, tenant, userId))).map(toKey),
    async remove(tenant: string, userId: string, provider: string): Promise<ApiKey> {
      const name = typeof provider === "string" ? provider.toLowerCase() : "";
      const row = await database.write((tx) => store.deleteKey(tx, tenant, userId, name));
      if (!row) throw notFound("API_KEY_NOT_FOUND", `no API key for provider ${provider}`, { provider: name });
      return toKey(row);
    },
    /** The decrypted keys by environment variable name, for a sandbox (internal). */
    async values(tenant: string, userId: string): Promise<Record<string, string>> {
      const out: Record<string, string> = {};
      for (const row of await database.read((tx) => store.keysOfUser(tx, tenant, userId))) {
        try {
          out[row.key_name] = await secrets.open(row.sealed, aad(tenant, userId, row.provider));
        } catch {
          throw new AppError("internal", "API_KEY_UNREADABLE", `the ${row.provider} key cannot be decrypted (was SWITCHYARD_SECRET_KEY changed?)`, { provider: row.provider });
        }
      }
      return out;
    },
  };
}

export type ApiKeys = ReturnType<typeof createApiKeys>;
