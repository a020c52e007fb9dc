// Transports for Node and Bun: gRPC over HTTP/2 (h2c, or TLS for https:// URLs).
import type { Interceptor, Transport } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport } from "@connectrpc/connect-node";
import { bearer } from "./auth.ts";

export interface TransportOptions {
  /** Sent as a bearer token on every call. */
  token?: string;
  interceptors?: Interceptor[];
}

/** A gRPC transport to `baseUrl` (`http://host:port`). */
export function grpcTransport(baseUrl: string, opts: TransportOptions = {}): Transport {
  return createGrpcTransport({ baseUrl, interceptors: [...(opts.token ? [bearer(opts.token)] : []), ...(opts.interceptors ?? [])] });
}

/** A Connect-protocol transport over HTTP/1.1 (what browsers speak), from Node or Bun. */
export function connectTransport(baseUrl: string, opts: TransportOptions = {}): Transport {
  return createConnectTransport({ baseUrl, httpVersion: "1.1", interceptors: [...(opts.token ? [bearer(opts.token)] : []), ...(opts.interceptors ?? [])] });
}

export * from "./index.ts";
