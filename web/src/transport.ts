import { Code, ConnectError, createClient, type Client, type Interceptor, type Transport } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-web";
import type { DescService } from "@bufbuild/protobuf";
import { ErrorInfoSchema } from "../../gen/google/rpc/error_details_pb.ts";

// The token lives in sessionStorage only: never in a URL, never in a log line, gone with the tab.
const TOKEN_KEY = "switchyard.token";
const listeners = new Set<() => void>();

export const tokenStore = {
  get: (): string => sessionStorage.getItem(TOKEN_KEY) ?? "",
  set(token: string): void {
    if (token) sessionStorage.setItem(TOKEN_KEY, token);
    else sessionStorage.removeItem(TOKEN_KEY);
    for (const l of listeners) l();
  },
  subscribe(l: () => void): () => void {
    listeners.add(l);
    return () => listeners.delete(l);
  },
};

const auth: Interceptor = (next) => (req) => {
  const token = tokenStore.get();
  if (token) req.header.set("authorization", `Bearer ${token}`);
  return next(req);
};

/** The one transport of the dashboard: Connect protocol (JSON) to the server that served the page. */
export const transport: Transport = createConnectTransport({
  baseUrl: window.location.origin,
  useBinaryFormat: false,
  interceptors: [auth],
});

const clients = new Map<string, Client<DescService>>();
/** A cached generated client for a service. */
export function client<S extends DescService>(service: S): Client<S> {
  let c = clients.get(service.typeName);
  if (!c) clients.set(service.typeName, (c = createClient(service, transport) as Client<DescService>));
  return c as Client<S>;
}

/** What to show of an error: its Connect code, the server's reason and message. */
export function describeError(error: unknown): { code: string; reason: string; message: string; unimplemented: boolean; unauthenticated: boolean } {
  const e = ConnectError.from(error);
  const info = e.findDetails(ErrorInfoSchema)[0];
  return {
    code: Code[e.code] ?? String(e.code),
    reason: info?.reason ?? "",
    message: e.rawMessage,
    unimplemented: e.code === Code.Unimplemented,
    unauthenticated: e.code === Code.Unauthenticated || e.code === Code.PermissionDenied,
  };
}
