import { createServer as createHttpServer, type Server as HttpServer } from "node:http";
import { createServer as createHttp2Server, type Http2Server, type Http2Session } from "node:http2";
import { createServer as createNetServer, type AddressInfo, type Server as NetServer, type Socket } from "node:net";
import type { RequestHandler } from "./http.ts";

/** The HTTP/2 connection preface every h2c client sends first. */
const PREFACE = Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");

export interface ListenerOptions {
  host: string;
  port: number;
  maxConcurrentStreams: number;
  /** Largest header block accepted, in bytes. */
  maxHeaderBytes?: number;
  /** A connection that sends nothing for this long is closed. */
  idleTimeoutMs?: number;
}

/** One port that serves HTTP/1.1 and HTTP/2 (h2c) with the same handler. */
export interface Listener {
  readonly port: number;
  readonly address: string;
  /** Stops accepting connections, asks open ones to finish (HTTP/2 GOAWAY), resolves when all are closed or `graceMs` passed. */
  close(graceMs: number): Promise<void>;
}

/**
 * `node:http2` cleartext cannot serve HTTP/1.1 and `node:http` cannot serve h2c, so a raw TCP
 * listener reads the first bytes of each connection and hands the socket to the server that
 * speaks its protocol. Both servers call the same request handler.
 */
export async function listen(handler: RequestHandler, options: ListenerOptions): Promise<Listener> {
  const idleTimeoutMs = options.idleTimeoutMs ?? 120_000;
  const http1: HttpServer = createHttpServer({ maxHeaderSize: options.maxHeaderBytes ?? 64 * 1024 }, handler as never);
  http1.keepAliveTimeout = 65_000;
  http1.headersTimeout = 30_000;
  const http2: Http2Server = createHttp2Server(
    {
      settings: { maxConcurrentStreams: options.maxConcurrentStreams, maxHeaderListSize: options.maxHeaderBytes ?? 64 * 1024 },
      maxSessionMemory: 64,
      // Keep header values with leading/trailing whitespace instead of dropping the field, so
      // the one token parser (interceptors/auth.ts, which trims) sees on HTTP/2 what HTTP/1.1's
      // parser hands it: `Bearer <token> ` is the same credential on every protocol.
      strictFieldWhitespaceValidation: false,
    } as Parameters<typeof createHttp2Server>[0],
    handler as never,
  );
  const sockets = new Set<Socket>();
  const sessions = new Set<Http2Session>();
  http2.on("session", (session) => {
    sessions.add(session);
    session.once("close", () => sessions.delete(session));
    session.on("error", () => {});
  });
  http2.on("sessionError", () => {});
  // WebSocket upgrades (legacy routes that documented a WebSocket) go to the handler's table.
  http1.on("upgrade", (req, socket, head) => handler.upgrade(req, socket as Socket, head));
  http1.on("clientError", (_error, socket) => {
    if (socket.writable) socket.end("HTTP/1.1 400 Bad Request\r\nconnection: close\r\ncontent-length: 0\r\n\r\n");
    else socket.destroy();
  });

  const route = (socket: Socket) => {
    sockets.add(socket);
    socket.once("close", () => sockets.delete(socket));
    socket.on("error", () => socket.destroy());
    socket.setNoDelay(true);
    // Until the first request arrives, an idle connection is closed after idleTimeoutMs.
    socket.setTimeout(idleTimeoutMs, () => socket.destroy());
    let seen: Buffer = Buffer.alloc(0);
    const onData = (chunk: Buffer) => {
      seen = seen.length === 0 ? chunk : Buffer.concat([seen, chunk]);
      const n = Math.min(seen.length, PREFACE.length);
      const isH2 = seen.subarray(0, n).equals(PREFACE.subarray(0, n));
      if (isH2 && seen.length < PREFACE.length) return; // could still be HTTP/2: wait for more
      socket.off("data", onData);
      socket.pause();
      socket.unshift(seen);
      socket.setTimeout(0);
      if (isH2) http2.emit("connection", socket);
      else http1.emit("connection", socket);
      socket.resume();
    };
    socket.on("data", onData);
  };

  const net: NetServer = createNetServer({ pauseOnConnect: false }, route);
  await new Promise<void>((resolve, reject) => {
    net.once("error", reject);
    net.listen(options.port, options.host, () => {
      net.off("error", reject);
      resolve();
    });
  });
  const address = net.address() as AddressInfo;
  return {
    port: address.port,
    address: address.address,
    async close(graceMs) {
      const closed = new Promise<void>((resolve) => net.close(() => resolve()));
      for (const session of sessions) session.close();
      http1.close();
      (http1 as { closeIdleConnections?: () => void }).closeIdleConnections?.();
      const deadline = new Promise<void>((resolve) => setTimeout(resolve, graceMs).unref());
      const drained = (async () => {
        while (sockets.size > 0) await new Promise((r) => setTimeout(r, 25));
      })();
      await Promise.race([drained, deadline]);
      for (const socket of sockets) socket.destroy();
      await Promise.race([closed, new Promise((r) => setTimeout(r, 1000))]);
    },
  };
}
