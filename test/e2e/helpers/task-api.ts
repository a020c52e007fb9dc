// One way to call TaskService and QueueService over every protocol, in the REST JSON form:
// requests and answers are proto-JSON objects with proto field names, so one scenario can run
// unchanged over gRPC, gRPC-Web, Connect (typed clients) and REST (HTTP routes from the
// google.api.http rules, server streams as SSE).
import { fromJson, getOption, hasOption, toJson, type DescMethod, type DescService, type JsonObject, type JsonValue } from "@bufbuild/protobuf";
import { ConnectError } from "@connectrpc/connect";
import { http } from "../../../gen/google/api/annotations_pb.js";
import { ErrorInfoSchema } from "../../../gen/google/rpc/error_details_pb.js";
import { QueueService } from "../../../gen/switchyard/tasks/v1/queues_service_pb.js";
import { TaskService } from "../../../gen/switchyard/tasks/v1/tasks_service_pb.js";
import { codeName } from "../../../src/server/errors.ts";
import { clientFor, type Protocol } from "../../../src/testing/clients.ts";

export type ApiProtocol = Protocol | "rest";
export const PROTOCOLS: ApiProtocol[] = ["grpc", "grpc-web", "connect", "rest"];

/** An error as every protocol reports it: code word, ErrorInfo reason, field, HTTP status on REST. */
export class ApiError extends Error {
  constructor(
    readonly code: string,
    readonly reason: string,
    readonly field: string | undefined,
    readonly status: number | undefined,
    message: string,
  ) {
    super(`${code} ${reason}${field ? ` (${field})` : ""}: ${message}`);
  }
}

const OUTPUT = { useProtoFieldName: true, alwaysEmitImplicit: true } as const;
type Service = typeof TaskService | typeof QueueService;
type AnyJson = any; // answers are read field by field in the tests

export interface TaskApi {
  protocol: ApiProtocol;
  tasks(method: keyof typeof TaskService.method, req?: JsonObject): Promise<AnyJson>;
  queues(method: keyof typeof QueueService.method, req?: JsonObject): Promise<AnyJson>;
  /** A server stream of TaskService; ends when `signal` aborts. */
  stream(method: "watchTaskEvents" | "connectWorker", req: JsonObject, signal: AbortSignal): AsyncGenerator<AnyJson>;
}

/** The API of the server at `url` over one protocol. */
export function taskApi(url: string, protocol: ApiProtocol): TaskApi {
  if (protocol === "rest") return restApi(url);
  const clients = new Map<Service, Record<string, (req: unknown, opts?: unknown) => unknown>>();
  const client = (s: Service) => {
    if (!clients.has(s)) clients.set(s, clientFor(s as DescService, url, protocol) as never);
    return clients.get(s)!;
  };
  async function unary(service: Service, name: string, req: JsonObject = {}) {
    const method = (service.method as Record<string, DescMethod>)[name]!;
    try {
      const out = await client(service)[name]!(fromJson(method.input, req));
      return toJson(method.output, out as never, OUTPUT);
    } catch (e) {
      throw rpcError(e);
    }
  }
  return {
    protocol,
    tasks: (name, req) => unary(TaskService, name, req),
    queues: (name, req) => unary(QueueService, name, req),
    async *stream(name, req, signal) {
      const method = TaskService.method[name] as DescMethod;
      try {
        const it = client(TaskService)[name]!(fromJson(method.input, req), { signal }) as AsyncIterable<never>;
        for await (const m of it) yield toJson(method.output, m, OUTPUT);
      } catch (e) {
        if (signal.aborted) return;
        throw rpcError(e);
      }
    },
  };
}

function rpcError(e: unknown): ApiError {
  const error = ConnectError.from(e);
  const info = error.findDetails(ErrorInfoSchema)[0];
  return new ApiError(codeName(error.code), info?.reason ?? "", info?.metadata.field, undefined, error.rawMessage);
}

interface Rule {
  verb: string;
  path: string;
  body: string;
}

function ruleOf(method: DescMethod): Rule {
  if (!hasOption(method, http)) throw new Error(`${method.name} has no REST route`);
  const rule = getOption(method, http);
  const p = rule.pattern;
  if (p.case === undefined || p.case === "custom") throw new Error(`${method.name}: unsupported rule`);
  return { verb: p.case.toUpperCase(), path: p.value, body: rule.body };
}

/** Path, query string and body of a REST call made from the request JSON by its http rule. */
export function restRequest(method: DescMethod, req: JsonObject): { verb: string; path: string; body?: string } {
  const rule = ruleOf(method);
  const rest: JsonObject = { ...req };
  const path = rule.path.replace(/\{([\w.]+)\}/g, (_, name: string) => {
    const v = rest[name];
    delete rest[name];
    return encodeURIComponent(String(v ?? ""));
  });
  if (rule.body === "*") return { verb: rule.verb, path, body: JSON.stringify(rest) };
  const query = new URLSearchParams();
  const add = (prefix: string, v: JsonValue) => {
    if (Array.isArray(v)) for (const x of v) add(prefix, x);
    else if (v !== null && typeof v === "object") for (const [k, x] of Object.entries(v)) add(`${prefix}.${k}`, x);
    else query.append(prefix, String(v));
  };
  for (const [k, v] of Object.entries(rest)) add(k, v);
  const qs = query.toString();
  return { verb: rule.verb, path: qs ? `${path}?${qs}` : path };
}

function restApi(url: string): TaskApi {
  async function unary(service: Service, name: string, req: JsonObject = {}) {
    const method = (service.method as Record<string, DescMethod>)[name]!;
    const r = restRequest(method, req);
    const res = await fetch(url + r.path, { method: r.verb, body: r.body, headers: r.body ? { "content-type": "application/json" } : {} });
    const json = (await res.json()) as AnyJson;
    if (!res.ok) throw restError(res.status, json);
    return json;
  }
  return {
    protocol: "rest",
    tasks: (name, req) => unary(TaskService, name, req),
    queues: (name, req) => unary(QueueService, name, req),
    async *stream(name, req, signal) {
      const r = restRequest(TaskService.method[name] as DescMethod, req);
      let res: Response;
      try {
        res = await fetch(url + r.path, { method: r.verb, body: r.body, signal, headers: { accept: "text/event-stream" } });
      } catch (e) {
        if (signal.aborted) return;
        throw e;
      }
      if (!res.ok) throw restError(res.status, await res.json());
      for await (const event of sseEvents(res, signal)) {
        if (event.event === "message") yield JSON.parse(event.data);
        else if (event.event === "error") throw restError(0, JSON.parse(event.data));
        else if (event.event === "end") return;
      }
    },
  };
}

function restError(status: number, json: AnyJson): ApiError {
  const e = json?.error ?? {};
  return new ApiError(e.code ?? "unknown", e.reason ?? "", e.metadata?.field, status || e.status, e.message ?? JSON.stringify(json));
}

/** Parses a text/event-stream body into `{ event, data }` records. */
export async function* sseEvents(res: Response, signal?: AbortSignal): AsyncGenerator<{ event: string; data: string }> {
  const reader = res.body!.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  try {
    while (true) {
      let chunk: Awaited<ReturnType<typeof reader.read>>;
      try {
        chunk = await reader.read();
      } catch (e) {
        if (signal?.aborted) return;
        throw e;
      }
      if (chunk.done) return;
      buffer += decoder.decode(chunk.value, { stream: true });
      let i: number;
      while ((i = buffer.indexOf("\n\n")) >= 0) {
        const block = buffer.slice(0, i);
        buffer = buffer.slice(i + 2);
        let event = "message";
        const data: string[] = [];
        for (const line of block.split("\n")) {
          if (line.startsWith("event:")) event = line.slice(6).trim();
          else if (line.startsWith("data:")) data.push(line.slice(5).trimStart());
        }
        if (data.length) yield { event, data: data.join("\n") };
      }
    }
  } finally {
    reader.releaseLock();
  }
}

/** Awaits `p` and returns the ApiError it failed with; throws when it succeeded. */
export async function failure(p: Promise<unknown>): Promise<ApiError> {
  try {
    await p;
  } catch (e) {
    if (e instanceof ApiError) return e;
    throw e;
  }
  throw new Error("expected the call to fail");
}

/** Polls `probe` until it returns a value other than undefined, or throws after `ms`. */
export async function until<T>(what: string, probe: () => Promise<T | undefined> | T | undefined, ms = 10_000, every = 20): Promise<T> {
  const deadline = Date.now() + ms;
  while (true) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await Bun.sleep(every);
  }
}
