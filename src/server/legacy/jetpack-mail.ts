import type { Socket } from "node:net";
import { fromJson, type JsonValue } from "@bufbuild/protobuf";
import { timestampMs, ValueSchema, type Timestamp } from "@bufbuild/protobuf/wkt";
import type { ConnectError } from "@connectrpc/connect";
import { WebSocketServer, type WebSocket } from "ws";
import { LeaseService } from "../../../gen/switchyard/mail/v1/lease_service_pb.js";
import { MailService } from "../../../gen/switchyard/mail/v1/mail_service_pb.js";
import { AppError, invalidArgument } from "../../core/errors.ts";
import type { Logger } from "../../core/logger.ts";
import { MAX_LEASE_TTL_MS, MIN_LEASE_TTL_MS } from "../../mail/leases.ts";
import type { MailMessage, Messages } from "../../mail/messages.ts";
import { normalizeLeasePath } from "../../mail/paths.ts";
import { inboxTopic, validateTopic } from "../../mail/topics.ts";
import { errorInfo } from "../errors.ts";
import type { UpgradeRoute } from "../http.ts";
import type { NodeRequest } from "../http-io.ts";
import { authenticateUpgrade, type PrincipalResolver } from "../interceptors/auth.ts";
import { jetpackError } from "./jetpack.ts";
import { route, type LegacyFamily, type LegacyReply } from "./table.ts";

/** Topic prefix of Jetpack broadcasts: a message of type `task.created` goes to `broadcast.task.created`. */
export const BROADCAST_PREFIX = "broadcast.";
/** Header keeping the Jetpack message id (also the publish idempotency key). */
const ID_HEADER = "jetpack-id";

const ms = (t: Timestamp | undefined) => (t ? timestampMs(t) : undefined);

function object(body: unknown): Record<string, unknown> {
  if (body === undefined || body === null) return {};
  if (typeof body !== "object" || Array.isArray(body)) throw new AppError("invalid_argument", "INVALID_ARGUMENT", "request body must be a JSON object");
  return body as Record<string, unknown>;
}

function required(message: string, fields: Record<string, unknown>): void {
  const missing = Object.entries(fields).find(([, v]) => v === undefined || v === null || v === "" || v === 0);
  if (missing) throw new AppError("invalid_argument", "INVALID_ARGUMENT", message, { field: missing[0] });
}

function optionalString(value: unknown, field: string): string | undefined {
  if (value === undefined || value === null || value === "") return undefined;
  if (typeof value !== "string") throw invalidArgument(field, "must be a string");
  return value;
}

function file(value: unknown): string {
  if (typeof value !== "string") throw invalidArgument("file", "must be a string");
  return normalizeLeasePath(value, "file");
}

function agentId(value: unknown): string {
  if (typeof value !== "string") throw invalidArgument("agentId", "must be a string");
  return value;
}

/**
 * Seed 000's error body, except for a held lease, which answers like a refused acquire:
 * 409 `{ acquired: false, file, holder, expiresAt }`.
 */
function jetpackMailError(error: ConnectError, status: number): LegacyReply {
  const info = errorInfo(error);
  if (info?.reason === "LEASE_HELD") {
    const m = info.metadata;
    return { status: 409, body: { acquired: false, file: m.path, holder: m.holder, expiresAt: Date.parse(m.expire_time ?? "") } };
  }
  return jetpackError(error, status);
}

/**
 * Seed 000's mail routes (Jetpack worker API): publish, and file leases acquire/release/status.
 * The WebSocket `GET /api/mail/subscribe` is `jetpackMailSubscribe` (an upgrade route).
 * Shapes are documented in src/mail/README.md.
 */
export function jetpackMailFamily(): LegacyFamily {
  return {
    name: "seed-000-mail",
    error: jetpackMailError,
    routes: [
      route({
        method: "POST",
        path: "/api/mail/publish",
        rpc: MailService.method.publish,
        request(req) {
          const b = object(req.body);
          const from = optionalString(b.from, "from");
          if (!from) throw invalidArgument("from", "is required");
          const type = optionalString(b.type, "type");
          const to = optionalString(b.to, "to");
          const id = optionalString(b.id, "id");
          const headers: Record<string, string> = {};
          if (type) headers.type = type;
          if (id) headers[ID_HEADER] = id;
          if (!to && !type) throw invalidArgument("type", "is required for a broadcast (a message without `to`)");
          return {
            destination: to
              ? { case: "agent" as const, value: inboxTopic(to, "to").slice("inbox.".length) }
              : { case: "topic" as const, value: validateTopic(BROADCAST_PREFIX + type, "type") },
            payload: b.payload === undefined ? undefined : fromJson(ValueSchema, b.payload as JsonValue),
            headers,
            sender: from,
            requestId: id,
          };
        },
        response: () => ({ body: { published: true } }),
      }),
      route({
        method: "POST",
        path: "/api/mail/lease",
        rpc: LeaseService.method.acquireLease,
        request(req) {
          const b = object(req.body);
          required("file, agentId, and ttlMs are required", { file: b.file, agentId: b.agentId, ttlMs: b.ttlMs });
          const ttlMs = b.ttlMs;
          if (typeof ttlMs !== "number" || !Number.isFinite(ttlMs) || ttlMs < MIN_LEASE_TTL_MS || ttlMs > MAX_LEASE_TTL_MS) {
            throw invalidArgument("ttlMs", `must be a number of milliseconds from ${MIN_LEASE_TTL_MS} to ${MAX_LEASE_TTL_MS}`);
          }
          const ttl = Math.round(ttlMs);
          return {
            path: file(b.file),
            holder: agentId(b.agentId),
            ttl: { seconds: BigInt(Math.floor(ttl / 1000)), nanos: (ttl % 1000) * 1_000_000 },
          };
        },
        response: (out) => ({
          body: {
            acquired: true,
            file: out.lease!.path,
            agentId: out.lease!.holder,
            expiresAt: ms(out.lease!.expireTime),
            fencingToken: Number(out.lease!.fencingToken),
          },
        }),
      }),
      route({
        method: "DELETE",
        path: "/api/mail/lease",
        // The agent's own lease of exactly this path, if any (the exact path sorts first under its prefix).
        rpc: LeaseService.method.listLeases,
        request(req) {
          const b = object(req.body);
          required("file and agentId are required", { file: b.file, agentId: b.agentId });
          return { prefix: file(b.file), holder: agentId(b.agentId), pageSize: 1 };
        },
        async response(out, req, call) {
          const path = file(object(req.body).file);
          const lease = out.leases[0];
          if (lease?.path === path) {
            // Released meanwhile (expired, or a concurrent release): the path is free all the same.
            await call(LeaseService.method.releaseLease, { path, fencingToken: lease.fencingToken }).catch((e) => {
              if (errorInfo(e as ConnectError)?.reason !== "LEASE_LOST") throw e;
            });
          }
          return { body: { released: true } };
        },
      }),
      route({
        method: "GET",
        path: "/api/mail/lease",
        rpc: LeaseService.method.listLeases,
        request(req) {
          required("file is required", { file: req.query.get("file") });
          return { prefix: file(req.query.get("file")), pageSize: 1 };
        },
        response(out, req) {
          const path = file(req.query.get("file"));
          const lease = out.leases[0];
          if (lease?.path !== path) return { body: { file: path, isLeased: false } };
          return {
            body: { file: path, isLeased: true, agentId: lease.holder, expiresAt: ms(lease.expireTime), fencingToken: Number(lease.fencingToken) },
          };
        },
      }),
    ],
  };
}

/** The Jetpack message a WebSocket subscriber receives for a mail message. */
export function jetpackFrame(m: MailMessage, cursor: string): Record<string, unknown> {
  const inbox = m.topic.startsWith("inbox.") ? m.topic.slice("inbox.".length) : undefined;
  const broadcastType = m.topic.startsWith(BROADCAST_PREFIX) ? m.topic.slice(BROADCAST_PREFIX.length) : undefined;
  return {
    id: m.headers[ID_HEADER] ?? m.id,
    type: m.headers.type ?? broadcastType ?? "message",
    from: m.sender,
    ...(inbox ? { to: inbox } : {}),
    payload: m.payload,
    timestamp: new Date(m.publishTime).toISOString(),
    topic: m.topic,
    sequence: m.sequence,
    cursor,
  };
}

export interface JetpackSubscribeDeps {
  messages: Messages;
  /** The mail log's last sequence now (a fresh subscription starts after it). */
  lastSequence(): Promise<number>;
  /** Resolves the handshake's `Authorization: Bearer` or `?token=`; the tenant scopes the topics. */
  auth: PrincipalResolver;
  log: Logger;
}

function refuse(socket: Socket, status: number, word: string, body: unknown): void {
  const text = JSON.stringify(body);
  socket.end(
    `HTTP/1.1 ${status} ${word}\r\nconnection: close\r\ncontent-type: application/json; charset=utf-8\r\ncontent-length: ${Buffer.byteLength(text)}\r\n\r\n${text}`,
  );
}

/** Reads `cursor=<inbox>.<broadcast>` or `startSequence=<n>` into the two streams' last sequences. */
function startOf(query: URLSearchParams): { inbox: number; broadcast: number } | undefined {
  const cursor = query.get("cursor");
  if (cursor !== null) {
    const m = /^(\d{1,15})\.(\d{1,15})$/.exec(cursor);
    if (!m) throw invalidArgument("cursor", "must be the `cursor` of a frame: <inbox sequence>.<broadcast sequence>");
    return { inbox: Number(m[1]), broadcast: Number(m[2]) };
  }
  const start = query.get("startSequence");
  if (start !== null) {
    if (!/^\d{1,15}$/.test(start) || Number(start) < 1) throw invalidArgument("startSequence", "must be a positive integer");
    return { inbox: Number(start) - 1, broadcast: Number(start) - 1 };
  }
  return undefined;
}

/**
 * Seed 000's `GET /api/mail/subscribe?agentId=` WebSocket: the agent's inbox (`inbox.<agentId>`)
 * and every broadcast (`broadcast.>`, except the agent's own), as Jetpack message frames. Each
 * frame carries `cursor`; reconnecting with `?cursor=` resumes both streams with no gap and no
 * duplicate. Auth (when a token is set) is checked before the upgrade.
 */
export function jetpackMailSubscribe(deps: JetpackSubscribeDeps): UpgradeRoute {
  const wss = new WebSocketServer({ noServer: true });
  return {
    path: "/api/mail/subscribe",
    handle(req: NodeRequest, socket: Socket, head: Buffer) {
      const url = new URL(req.url ?? "/", "http://switchyard");
      void authenticateUpgrade(deps.auth, req.headers, url).then(
        (principal) => accept(req, socket, head, url, deps.messages.forTenant(principal.tenant)),
        () => refuse(socket, 401, "Unauthorized", { error: "Unauthorized" }),
      );
    },
  };

  function accept(req: NodeRequest, socket: Socket, head: Buffer, url: URL, messages: Messages): void {
    {
      const agent = url.searchParams.get("agentId");
      if (!agent) return refuse(socket, 400, "Bad Request", { error: "agentId is required" });
      let inbox: string;
      let start: { inbox: number; broadcast: number } | undefined;
      try {
        inbox = inboxTopic(agent, "agentId");
        start = startOf(url.searchParams);
      } catch (error) {
        return refuse(socket, 400, "Bad Request", { error: (error as Error).message });
      }
      void deps.lastSequence().then(
        (last) => wss.handleUpgrade(req, socket, head, (ws) => serveSocket(ws, messages, agent, inbox, start ?? { inbox: last, broadcast: last })),
        (error) => {
          deps.log.error("mail subscribe: could not read the mail log", { error: String(error) });
          refuse(socket, 503, "Service Unavailable", { error: "mail log unavailable" });
        },
      );
    }
  }

  function serveSocket(ws: WebSocket, messages: Messages, agent: string, inbox: string, start: { inbox: number; broadcast: number }): void {
    const last = { ...start };
    const cursor = () => `${last.inbox}.${last.broadcast}`;
    const subs = {
      inbox: messages.subscribe({ topic: inbox, startSequence: start.inbox + 1 }),
      broadcast: messages.subscribe({ topic: `${BROADCAST_PREFIX}>`, startSequence: start.broadcast + 1 }),
    };
    const closeAll = () => {
      subs.inbox.close();
      subs.broadcast.close();
    };
    ws.on("close", closeAll);
    ws.on("error", closeAll);
    const send = (frame: unknown) =>
      new Promise<void>((resolve, reject) => ws.send(JSON.stringify(frame), (error) => (error ? reject(error) : resolve())));
    void send({ type: "switchyard.subscribed", agentId: agent, cursor: cursor(), timestamp: new Date().toISOString() }).catch(closeAll);
    for (const which of ["inbox", "broadcast"] as const) {
      void (async () => {
        try {
          for await (const m of subs[which]) {
            last[which] = m.sequence;
            // Jetpack does not echo a broadcast to its sender; the cursor still moves past it.
            if (which === "broadcast" && m.sender === agent) continue;
            // Awaiting the write keeps a slow socket's backlog in the bounded subscription buffer.
            await send(jetpackFrame(m, cursor()));
          }
          // The stream ended without error: the server is shutting down.
          if (ws.readyState === ws.OPEN) ws.close(1001, "server shutting down");
        } catch (error) {
          if (ws.readyState !== ws.OPEN) return;
          const app = error instanceof AppError ? error : undefined;
          await send({ type: "switchyard.error", error: (error as Error).message, reason: app?.reason ?? "INTERNAL", cursor: cursor() }).catch(() => {});
          ws.close(app?.reason === "SUBSCRIBER_OVERFLOW" ? 1013 : 1011, app?.reason ?? "INTERNAL");
        } finally {
          closeAll();
        }
      })();
    }
  }
}
