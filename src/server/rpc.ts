import type { DescMethod, DescService } from "@bufbuild/protobuf";
import {
  createConnectRouter,
  createServiceImplSpec,
  type ConnectRouter,
  type HandlerContext,
  type Interceptor,
  type MethodImplSpec,
  type ServiceImpl,
} from "@connectrpc/connect";
import type { UniversalHandler } from "@connectrpc/connect/protocol";
import { AppError } from "../core/errors.ts";
import type { Logger } from "../core/logger.ts";
import { callRecordKey } from "./call-record.ts";
import { codeName, errorInfo, toConnectError } from "./errors.ts";
import { errorInterceptor } from "./interceptors/errors.ts";
import { preParseInterceptor } from "./json-gate.ts";
import { validationInterceptor } from "./interceptors/validation.ts";
import { RpcHandlers } from "./invoke.ts";

/** A service implementation to serve; methods left out answer `unimplemented`. */
export interface ServiceRegistration {
  service: DescService;
  impl: Partial<ServiceImpl<DescService>>;
}

export interface RpcOptions {
  services: DescService[];
  implementations: ServiceRegistration[];
  log: Logger;
  maxMessageBytes: number;
  maxDeadlineMs: number;
  /** Runs before a request body is read (authentication). */
  requestGate?: (ctx: HandlerContext) => void | Promise<void>;
  shutdownSignal: AbortSignal;
  /** Run right inside the error interceptor, before anything else (rate limits). */
  edgeInterceptors?: Interceptor[];
}

/** The RPC core every protocol goes through: Connect handlers, by path, and an in-process client. */
export interface Rpc {
  /** Universal handlers by request path (`/switchyard.tasks.v1.TaskService/GetTask`). */
  handlers: Map<string, UniversalHandler>;
  /** Every method served, by fully-qualified name (`switchyard.tasks.v1.TaskService.GetTask`). */
  methods: Map<string, DescMethod>;
  /**
   * What the lean gRPC path (lean-grpc.ts) needs to serve a call exactly as the Connect
   * router would: the same implementation specs, the same interceptor chain, the same gate.
   */
  unary: UnaryCalls;
}

/** The unary methods by request path, with the pieces Connect's handlers are built from. */
export interface UnaryCalls {
  specs: Map<string, MethodImplSpec & { kind: "unary" }>;
  /** The server-streaming methods (a worker's stream of assignments), for the lean gRPC path only. */
  streams: Map<string, MethodImplSpec & { kind: "server_streaming" }>;
  interceptors: Interceptor[];
  requestGate: ((ctx: HandlerContext) => Promise<void>) | undefined;
  maxMessageBytes: number;
  maxDeadlineMs: number;
  shutdownSignal: AbortSignal;
}

/** Builds the Connect router for every service, filling unbuilt methods with `unimplemented`. */
export function createRpc(options: RpcOptions): Rpc {
  const { log } = options;
  const unbuilt = new Set<DescMethod>();
  // Order matters: errors wrap everything; an unbuilt RPC answers unimplemented before its
  // request is judged; a body the JSON gate refused is thrown before validation runs.
  const interceptors: Interceptor[] = [errorInterceptor(log), ...(options.edgeInterceptors ?? []), unbuiltInterceptor(unbuilt), preParseInterceptor(), validationInterceptor()];
  const gate = options.requestGate;
  const requestGate = gate ? recordingGate(gate, log) : undefined;
  const router: ConnectRouter = createConnectRouter({
    interceptors,
    readMaxBytes: options.maxMessageBytes,
    writeMaxBytes: options.maxMessageBytes,
    maxTimeoutMs: options.maxDeadlineMs,
    shutdownSignal: options.shutdownSignal,
    jsonOptions: { ignoreUnknownFields: false },
    requestGate,
  });
  const specs: UnaryCalls["specs"] = new Map();
  const streams: UnaryCalls["streams"] = new Map();
  // Several registrations of one service merge (a domain may serve methods of another's service).
  const impls = new Map<string, object>();
  for (const r of options.implementations) impls.set(r.service.typeName, { ...(impls.get(r.service.typeName) ?? {}), ...(r.impl as object) });
  const methods = new Map<string, DescMethod>();
  for (const service of options.services) {
    const impl: Record<string, unknown> = { ...(impls.get(service.typeName) ?? {}) };
    for (const method of service.methods) {
      methods.set(`${service.typeName}.${method.name}`, method);
      if (impl[method.localName] === undefined) {
        unbuilt.add(method);
        impl[method.localName] = unimplemented(method);
      }
    }
    router.service(service, impl as ServiceImpl<DescService>);
    // The same specs the router builds (methods bound to their implementation).
    const spec = createServiceImplSpec(service, impl as ServiceImpl<DescService>);
    for (const method of service.methods) {
      const m = spec.methods[method.localName];
      if (m?.kind === "unary") specs.set(`/${service.typeName}/${method.name}`, m);
      else if (m?.kind === "server_streaming") streams.set(`/${service.typeName}/${method.name}`, m);
    }
  }
  const unary: UnaryCalls = {
    specs,
    streams,
    interceptors,
    requestGate,
    maxMessageBytes: options.maxMessageBytes,
    maxDeadlineMs: options.maxDeadlineMs,
    shutdownSignal: options.shutdownSignal,
  };
  const handlers = new RpcHandlers(router.handlers.map((h) => [h.requestPath, h] as const), unary);
  return { handlers, methods, unary };
}

/** The request gate as every path runs it: a refusal becomes a ConnectError with ErrorInfo, written to the call record. */
function recordingGate(gate: (ctx: HandlerContext) => void | Promise<void>, log: Logger): (ctx: HandlerContext) => Promise<void> {
  return async (ctx) => {
    try {
      await gate(ctx);
    } catch (error) {
      const connectError = toConnectError(error, log);
      const record = ctx.values.get(callRecordKey);
      if (record) {
        record.rpc = `${ctx.service.typeName}/${ctx.method.name}`;
        record.code = codeName(connectError.code);
        record.reason = errorInfo(connectError)?.reason;
      }
      throw connectError;
    }
  };
}

function unimplementedError(method: DescMethod): AppError {
  return new AppError("unimplemented", "NOT_IMPLEMENTED", `${method.parent.typeName}.${method.name} is not implemented yet`, {
      rpc: `${method.parent.typeName}.${method.name}`,
    });
}

/** Answers `unimplemented` for RPCs whose domain is not built yet, whatever the request holds. */
function unbuiltInterceptor(unbuilt: Set<DescMethod>): Interceptor {
  return (next) => async (req) => {
    if (unbuilt.has(req.method)) throw unimplementedError(req.method);
    return next(req);
  };
}

function unimplemented(method: DescMethod): unknown {
  const error = () => unimplementedError(method);
  if (method.methodKind === "unary") {
    return () => {
      throw error();
    };
  }
  // eslint-disable-next-line require-yield
  return async function* () {
    throw error();
  };
}
