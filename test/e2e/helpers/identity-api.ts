// Calls any RPC by name over gRPC, gRPC-Web, Connect or REST, as a caller with a bearer token:
// requests and answers in the REST JSON form, errors as ApiError (code, reason, HTTP status).
import { fromJson, toJson, type DescMethod, type DescService, type JsonObject } from "@bufbuild/protobuf";
import { ConnectError } from "@connectrpc/connect";
import { ErrorInfoSchema } from "../../../gen/google/rpc/error_details_pb.js";
import { codeName } from "../../../src/server/errors.ts";
import { clientFor } from "../../../src/testing/clients.ts";
import { ApiError, restRequest as restRequestOf, type ApiProtocol } from "./task-api.ts";

export { ApiError, type ApiProtocol };
export const ALL_PROTOCOLS: ApiProtocol[] = ["grpc", "grpc-web", "connect", "rest"];
const OUTPUT = { useProtoFieldName: true, alwaysEmitImplicit: true } as const;
type AnyJson = any; // answers are read field by field in the tests

export type Caller = (service: DescService, method: string, req?: JsonObject) => Promise<AnyJson>;

/** A caller of the server at `url` over `protocol`, sending `token` (if any) as a bearer token. */
export function caller(url: string, protocol: ApiProtocol, token?: string): Caller {
  const clients = new Map<DescService, Record<string, (req: unknown, opts?: unknown) => unknown>>();
  return async (service, name, req = {}) => {
    const method = service.methods.find((m) => m.localName === name) as DescMethod | undefined;
    if (!method) throw new Error(`${service.typeName} has no method ${name}`);
    if (protocol === "rest") {
      const r = restRequest(method, req);
      const headers: Record<string, string> = r.body ? { "content-type": "application/json" } : {};
      if (token) headers.authorization = `Bearer ${token}`;
      const res = await fetch(url + r.path, { method: r.verb, body: r.body, headers });
      const json = (await res.json()) as AnyJson;
      if (!res.ok) {
        // A legacy route in front of the canonical one (OAuth's `{ error: "slow_down" }`).
        if (typeof json.error === "string") throw new ApiError("", json.error.toUpperCase(), undefined, res.status, json.error_description ?? "");
        const e = json.error ?? {};
        throw new ApiError(e.code, e.reason, e.metadata?.field, res.status, e.message);
      }
      return json;
    }
    if (!clients.has(service)) clients.set(service, clientFor(service, url, protocol, token) as never);
    try {
      if (method.methodKind === "server_streaming") {
        // The first message proves the stream was accepted.
        const abort = new AbortController();
        const it = clients.get(service)![name]!(fromJson(method.input, req), { signal: abort.signal }) as AsyncIterable<never>;
        for await (const m of it) {
          abort.abort();
          return toJson(method.output, m, OUTPUT);
        }
        return undefined;
      }
      const out = await clients.get(service)![name]!(fromJson(method.input, req));
      return toJson(method.output, out as never, OUTPUT);
    } catch (e) {
      const error = ConnectError.from(e);
      const info = error.findDetails(ErrorInfoSchema)[0];
      throw new ApiError(codeName(error.code), info?.reason ?? "", info?.metadata.field, undefined, error.rawMessage);
    }
  };
}

/** As task-api's, and also for `{path=**}` variables (slashes kept). */
function restRequest(method: DescMethod, req: JsonObject): { verb: string; path: string; body?: string } {
  const r = restRequestOf(method, req);
  const wide = /\{([\w.]+)=[^}]*\}/.exec(r.path);
  if (!wide) return r;
  const name = wide[1]!;
  const value = String(req[name] ?? "");
  const [base, qs] = r.path.split("?");
  const query = new URLSearchParams(qs ?? "");
  query.delete(name);
  const path = base!.replace(wide[0], value.split("/").map(encodeURIComponent).join("/"));
  const rest = query.toString();
  let body = r.body;
  if (body) {
    const parsed = JSON.parse(body) as JsonObject;
    delete parsed[name];
    body = JSON.stringify(parsed);
  }
  return { verb: r.verb, path: rest ? `${path}?${rest}` : path, body };
}

/** The error a call failed with, or "ok". */
export async function outcome(p: Promise<unknown>): Promise<ApiError | "ok"> {
  try {
    await p;
    return "ok";
  } catch (e) {
    if (e instanceof ApiError) return e;
    throw e;
  }
}
