import { randomBytes } from "node:crypto";
import type { Clock } from "../core/clock.ts";
import { AppError, invalidArgument } from "../core/errors.ts";
import type { Logger } from "../core/logger.ts";
import type { SecretBox } from "../core/secret-box.ts";
import type { OpDatabase, Tx } from "../db/dialect.ts";
import type { Op } from "../db/op.ts";
import { checkApiKey, type Sessions } from "./sessions.ts";
import type { AgentStore } from "./store.ts";
import type { Json, JsonObject } from "./types.ts";

/** What a webhook delivery led to (the proto's WebhookOutcome numbers). */
export type WebhookOutcome = "session_started" | "installation_updated" | "ignored" | "duplicate";
const OUTCOME_CODES: Record<WebhookOutcome, number> = { session_started: 1, installation_updated: 2, ignored: 3, duplicate: 4 };

/** The GitHub App's state as the `github` integration row keeps it. */
interface GitHubState {
  installationId: string;
  owner: string;
  repositories: { id: number; fullName: string }[];
  totalWebhooks: number;
  lastWebhookAt: number | null;
}

export interface GitHubStatus {
  configured: boolean;
  appId: string;
  owner: string;
  installationId: string;
  repositoryCount: number;
  totalWebhooks: number;
  lastWebhookAt: number | undefined;
  /** Deliveries refused since start, by reason (`missing_signature`, `bad_signature`, `not_configured`, `duplicate`, `bad_request`). */
  refused: Record<string, number>;
}

export interface WebhookDelivery {
  payload: Uint8Array;
  event: string;
  deliveryId: string;
  signature: string;
}

const EMPTY: GitHubState = { installationId: "", owner: "", repositories: [], totalWebhooks: 0, lastWebhookAt: null };
const SETUP_TTL_MS = 3600_000;

/**
 * The agents' outside integrations: the stored Claude key (sealed), the GitHub App's
 * installation state, its one-time setup states, and webhook deliveries — verified with
 * `@octokit/webhooks-methods` (HMAC-SHA256, constant-time) before anything is read, and
 * deduplicated by delivery id.
 */
export function createIntegrations(deps: {
  database: OpDatabase;
  store: AgentStore;
  clock: Clock;
  secrets: SecretBox;
  log: Logger;
  webhookSecret: string | undefined;
  appId: string | undefined;
  appSlug: string | undefined;
  sessions: () => Sessions;
}) {
  const { database, store, clock, secrets, log } = deps;
  const claudeContext = (tenant: string) => `agents.claude:${tenant}`;

  const gitHubOf = (row: { value: JsonObject } | undefined): GitHubState => ({ ...EMPTY, ...(row?.value as Partial<GitHubState> | undefined) });
  const github = async (tenant: string): Promise<GitHubState> => gitHubOf(await database.read((tx) => store.integration(tx, tenant, "github")));
  /** Changes the GitHub state inside the current write (the row locked: instances do not lose each other's counts). */
  function* updateGitHub(tx: Tx, tenant: string, change: (s: GitHubState) => void): Op<void> {
    const s = gitHubOf(yield* store.lockIntegration(tx, tenant, "github"));
    change(s);
    yield* store.putIntegration(tx, tenant, "github", { value: s as unknown as JsonObject, sealed: undefined, updatedAt: clock.now(), expiresAt: undefined });
  }
  // Refusals are counted in memory: a flood of forged deliveries must not cost a write each.
  const refusals = new Map<string, Record<string, number>>();
  const refuse = async (tenant: string, reason: string) => {
    const counts = refusals.get(tenant) ?? {};
    counts[reason] = (counts[reason] ?? 0) + 1;
    refusals.set(tenant, counts);
  };

  async function status(tenant: string): Promise<GitHubStatus> {
    const s = await github(tenant);
    return {
      configured: deps.webhookSecret !== undefined && (deps.appId !== undefined || s.installationId !== ""),
      appId: deps.appId ?? "",
      owner: s.owner,
      installationId: s.installationId,
      repositoryCount: s.repositories.length,
      totalWebhooks: s.totalWebhooks,
      lastWebhookAt: s.lastWebhookAt ?? undefined,
      refused: { ...(refusals.get(tenant) ?? {}) },
    };
  }

  async function act(tenant: string, event: string, body: JsonObject): Promise<{ outcome: WebhookOutcome; sessionId: string }> {
    const action = typeof body.action === "string" ? body.action : "";
    if (event === "issues" && (action === "opened" || action === "edited")) {
      const issue = body.issue as JsonObject | undefined;
      const repo = body.repository as JsonObject | undefined;
      try {
        const { session } = await deps.sessions().processIssue(tenant, {
          repository: { name: String(repo?.full_name ?? ""), url: typeof repo?.html_url === "string" ? repo.html_url : "" },
          issueNumber: Number(issue?.number ?? 0),
          issueTitle: typeof issue?.title === "string" ? issue.title : "",
          issueBody: typeof issue?.body === "string" ? issue.body : "",
        });
        return { outcome: "session_started", sessionId: session.id };
      } catch (error) {
        if (!(error instanceof AppError)) throw error;
        log.warn("github webhook: issue not processed", { reason: error.reason, message: error.message });
        return { outcome: "ignored", sessionId: "" };
      }
    }
    const repos = (list: Json | undefined) =>
      (Array.isArray(list) ? list : []).map((r) => ({ id: Number((r as JsonObject).id ?? 0), fullName: String((r as JsonObject).full_name ?? "") }));
    if (event === "installation") {
      const inst = body.installation as JsonObject | undefined;
      const account = inst?.account as JsonObject | undefined;
      await database.write((tx) =>
        updateGitHub(tx, tenant, (s) => {
          if (action === "deleted" || action === "suspend") {
            s.installationId = "";
            s.repositories = [];
          } else {
            s.installationId = String(inst?.id ?? s.installationId);
            s.owner = String(account?.login ?? s.owner);
            if (body.repositories) s.repositories = repos(body.repositories);
          }
        }),
      );
      return { outcome: "installation_updated", sessionId: "" };
    }
    if (event === "installation_repositories") {
      const added = repos(body.repositories_added);
      const removed = new Set(repos(body.repositories_removed).map((r) => r.id));
      await database.write((tx) =>
        updateGitHub(tx, tenant, (s) => {
          s.repositories = [...s.repositories.filter((r) => !removed.has(r.id)), ...added.filter((a) => !s.repositories.some((r) => r.id === a.id))];
        }),
      );
      return { outcome: "installation_updated", sessionId: "" };
    }
    return { outcome: "ignored", sessionId: "" };
  }

  return {
    status,

    async claudeStatus(tenant: string): Promise<{ configured: boolean; setupAt: number | undefined }> {
      const row = await database.read((tx) => store.integration(tx, tenant, "claude"));
      return { configured: row?.sealed !== undefined, setupAt: row?.updatedAt };
    },

    hasClaudeKey: async (tenant: string): Promise<boolean> => (await database.read((tx) => store.integration(tx, tenant, "claude")))?.sealed !== undefined,

    async claudeKey(tenant: string): Promise<string | undefined> {
      const row = await database.read((tx) => store.integration(tx, tenant, "claude"));
      return row?.sealed ? secrets.open(row.sealed, claudeContext(tenant)) : undefined;
    },

    /** Stores the Anthropic key sealed; replaces any stored one. */
    async setClaudeKey(tenant: string, key: string): Promise<{ configured: boolean; setupAt: number }> {
      if (typeof key !== "string" || key.length > 256) throw invalidArgument("anthropic_api_key", "at most 256 characters");
      checkApiKey("anthropic_api_key", key);
      const sealed = await secrets.seal(key, claudeContext(tenant));
      const now = clock.now();
      await database.write((tx) => store.putIntegration(tx, tenant, "claude", { value: { setupAt: now }, sealed, updatedAt: now, expiresAt: undefined }));
      return { configured: true, setupAt: now };
    },

    /** A one-time setup state (1 hour) and the GitHub URL that creates or installs the app. */
    async startSetup(tenant: string, redirectUrl: string | undefined): Promise<{ setupUrl: string; state: string; expiresAt: number; appExists: boolean }> {
      if (redirectUrl !== undefined && redirectUrl !== "") {
        let ok = false;
        try {
          ok = ["http:", "https:"].includes(new URL(redirectUrl).protocol);
        } catch {}
        if (!ok || redirectUrl.length > 2000) throw invalidArgument("redirect_url", "must be an http(s) URL");
      }
      const state = randomBytes(24).toString("base64url");
      const now = clock.now();
      const expiresAt = now + SETUP_TTL_MS;
      await database.write((tx) =>
        store.putIntegration(tx, tenant, `setup:${state}`, { value: { redirectUrl: redirectUrl ?? "", completed: false }, sealed: undefined, updatedAt: now, expiresAt }),
      );
      const appExists = deps.appSlug !== undefined;
      const setupUrl = appExists
        ? `https://github.com/apps/${encodeURIComponent(deps.appSlug!)}/installations/new?state=${state}`
        : `https://github.com/settings/apps/new?state=${state}`;
      return { setupUrl, state, expiresAt, appExists };
    },

    /** Records what GitHub sent to the setup callback, once the state is verified. */
    async completeSetup(tenant: string, input: { state: string; code: string; installationId: string; setupAction: string }): Promise<{ github: GitHubStatus; redirectUrl: string }> {
      const row = input.state ? await database.read((tx) => store.integration(tx, tenant, `setup:${input.state}`)) : undefined;
      if (!row || (row.expiresAt !== undefined && row.expiresAt <= clock.now())) {
        throw new AppError("permission_denied", "SETUP_STATE_INVALID", "the setup state is unknown or expired; start the setup again");
      }
      const redirectUrl = String(row.value.redirectUrl ?? "");
      if (row.value.completed) return { github: await status(tenant), redirectUrl };
      if (!input.code && !input.installationId) throw invalidArgument("code", "neither code nor installation_id was given");
      if (!input.installationId) {
        throw new AppError("unavailable", "GITHUB_EXCHANGE_FAILED", "exchanging an app-manifest code needs an integration worker, which this server does not run yet");
      }
      if (!/^\d{1,20}$/.test(input.installationId)) throw invalidArgument("installation_id", "must be a number");
      await database.write(function* (tx) {
        yield* updateGitHub(tx, tenant, (s) => (s.installationId = input.installationId));
        yield* store.putIntegration(tx, tenant, `setup:${input.state}`, { value: { redirectUrl, completed: true, setupAction: input.setupAction }, sealed: undefined, updatedAt: clock.now(), expiresAt: row.expiresAt });
      });
      return { github: await status(tenant), redirectUrl };
    },

    /** Verifies, deduplicates and acts on one delivery. Refusals are counted by reason, then thrown. */
    async receiveWebhook(tenant: string, d: WebhookDelivery): Promise<{ outcome: WebhookOutcome; event: string; action: string; sessionId: string }> {
      if (!deps.webhookSecret) {
        await refuse(tenant, "not_configured");
        throw new AppError("failed_precondition", "GITHUB_NOT_CONFIGURED", "no webhook secret is configured (SWITCHYARD_GITHUB_WEBHOOK_SECRET)");
      }
      if (!d.signature) {
        await refuse(tenant, "missing_signature");
        throw new AppError("unauthenticated", "WEBHOOK_SIGNATURE_INVALID", "X-Hub-Signature-256 is missing");
      }
      const text = new TextDecoder().decode(d.payload);
      let valid = false;
      try {
        // Loaded on first use: only servers that receive GitHub webhooks need it.
        const { verify } = await import("@octokit/webhooks-methods");
        valid = await verify(deps.webhookSecret, text, d.signature);
      } catch {
        valid = false;
      }
      if (!valid) {
        await refuse(tenant, "bad_signature");
        throw new AppError("unauthenticated", "WEBHOOK_SIGNATURE_INVALID", "X-Hub-Signature-256 does not match the delivery");
      }
      if (!d.event || d.event.length > 100) {
        await refuse(tenant, "bad_request");
        throw invalidArgument("event", "X-GitHub-Event is missing");
      }
      if (!d.deliveryId || d.deliveryId.length > 200) {
        await refuse(tenant, "bad_request");
        throw invalidArgument("delivery_id", "X-GitHub-Delivery is missing");
      }
      let body: JsonObject;
      try {
        const parsed = JSON.parse(text);
        if (!parsed || typeof parsed !== "object" || Array.isArray(parsed)) throw new Error("not an object");
        body = parsed;
      } catch {
        await refuse(tenant, "bad_request");
        throw invalidArgument("payload", "is not a JSON object");
      }
      const action = typeof body.action === "string" ? body.action : "";
      const now = clock.now();
      // Claim the delivery id first: a redelivery racing this one finds it taken.
      const first = await database.write(function* (tx) {
        if (!(yield* store.claimDelivery(tx, tenant, { deliveryId: d.deliveryId, event: d.event, action, outcome: 0, sessionId: "", receivedAt: now }))) return false;
        yield* updateGitHub(tx, tenant, (s) => {
          s.totalWebhooks++;
          s.lastWebhookAt = now;
        });
        return true;
      });
      if (!first) {
        await refuse(tenant, "duplicate");
        const known = await database.read((tx) => store.delivery(tx, tenant, d.deliveryId));
        return { outcome: "duplicate", event: d.event, action, sessionId: known?.sessionId ?? "" };
      }
      const result = await act(tenant, d.event, body);
      await database.write((tx) => store.setDeliveryOutcome(tx, tenant, d.deliveryId, OUTCOME_CODES[result.outcome], result.sessionId));
      return { ...result, event: d.event, action };
    },
  };
}

export type Integrations = ReturnType<typeof createIntegrations>;
