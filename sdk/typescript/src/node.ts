// Transports for Node and Bun: gRPC over HTTP/2 (h2c, or TLS for https:// URLs) on the SDK's
// own node:http2 transport, and the Connect protocol over HTTP/1.1 on connect-node.
import type { Interceptor, Transport } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { bearer } from "./auth.ts";
import { createH2GrpcTransport, type H2TransportOptions } from "./h2-transport.ts";

export interface TransportOptions {
  /** Sent as a bearer token on every call. */
  token?: string;
  interceptors?: Interceptor[];
}

/** A gRPC transport to `baseUrl` (`http://host:port`, or `https://` for TLS); `opts` also takes
 * the transport's limits, deadline, TLS and keepalive options (`H2TransportOptions`). */
export function grpcTransport(baseUrl: string, opts: TransportOptions & Omit<H2TransportOptions, "baseUrl" | "interceptors"> = {}): Transport {
  const { token, interceptors, ...rest } = opts;
  return createH2GrpcTransport({ ...rest, baseUrl, interceptors: [...(token ? [bearer(token)] : []), ...(interceptors ?? [])] });
}

/** A Connect-protocol transport over HTTP/1.1 (what browsers speak), from Node or Bun. */
export function connectTransport(baseUrl: string, opts: TransportOptions = {}): Transport {
  return createConnectTransport({ baseUrl, httpVersion: "1.1", interceptors: [...(opts.token ? [bearer(opts.token)] : []), ...(opts.interceptors ?? [])] });
}

export { createH2GrpcTransport, type H2TransportOptions } from "./h2-transport.ts";
export * from "./index.ts";
