import type { IncomingMessage, ServerResponse } from "node:http";
import type { ContextValues } from "@connectrpc/connect";
import { AppError } from "../core/errors.ts";

/**
 * Requests and responses of both servers. HTTP/2 compatibility objects (Http2ServerRequest,
 * Http2ServerResponse) offer the same API for everything used here, so one type serves both.
 */
export type NodeRequest = IncomingMessage;
export type NodeResponse = ServerResponse;

/** The request headers as Web Headers (HTTP/2 pseudo-headers left out). */
export function headersOf(req: NodeRequest): Headers {
  const headers = new Headers();
  for (const [name, value] of Object.entries(req.headers)) {
    if (name.startsWith(":") || value === undefined) continue;
    if (Array.isArray(value)) for (const v of value) headers.append(name, v);
    else headers.set(name, value);
  }
  return headers;
}

/** Reads the whole request body, refusing more than `maxBytes` (413, BODY_TOO_LARGE). */
export async function readBody(req: NodeRequest, maxBytes: number): Promise<Uint8Array> {
  const declared = Number(req.headers["content-length"] ?? "0");
  if (declared > maxBytes) throw bodyTooLarge(maxBytes);
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Uint8Array>) {
    size += chunk.byteLength;
    if (size > maxBytes) throw bodyTooLarge(maxBytes);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

function bodyTooLarge(maxBytes: number): AppError {
  return new AppError("resource_exhausted", "BODY_TOO_LARGE", `request body is larger than ${maxBytes} bytes`, {
    limit: String(maxBytes),
  });
}

/** Sends a complete response. */
export function send(res: NodeResponse, status: number, body: string | Uint8Array, headers: Record<string, string> = {}): void {
  if (res.headersSent) {
    res.end();
    return;
  }
  const bytes = typeof body === "string" ? Buffer.from(body) : body;
  // Corked, HTTP/1.1 sends the head and the body in one write (Bun's fallback server writes
  // them separately otherwise: two syscalls per answer). HTTP/2 responses have no cork.
  const corkable = res as { cork?: () => void; uncork?: () => void };
  corkable.cork?.();
  res.writeHead(status, { "content-length": String(bytes.byteLength), ...headers });
  res.end(bytes);
  corkable.uncork?.();
}

/** Sends a JSON response. */
export function sendJson(res: NodeResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  send(res, status, JSON.stringify(body), { "content-type": "application/json; charset=utf-8", ...headers });
}

/** An AbortSignal that fires when the client goes away before the response is complete. */
export function clientGone(req: NodeRequest, res: NodeResponse): AbortSignal {
  const controller = new AbortController();
  const onClose = () => {
    if (!res.writableFinished) controller.abort(new Error("client closed the connection"));
  };
  res.once("close", onClose);
  req.once("aborted", onClose);
  return controller.signal;
}

/** One HTTP request being served by a REST or legacy route. */
export interface Exchange {
  req: NodeRequest;
  res: NodeResponse;
  url: URL;
  header: Headers;
  /** Carries the CallRecord (and a pre-parse error) into the in-process RPC call. */
  contextValues: ContextValues;
  /** Aborts when the client goes away. */
  signal: AbortSignal;
}
