import { fromBinary, toBinary, type DescMethod, type MessageShape, type DescMessage } from "@bufbuild/protobuf";
import { Code, ConnectError, type ContextValues, type HandlerContext } from "@connectrpc/connect";
import { createAsyncIterable, encodeEnvelope, invokeUnaryImplementation, pipe, readAllBytes, transformSplitEnvelope } from "@connectrpc/connect/protocol";
import type { UniversalHandler } from "@connectrpc/connect/protocol";
import { endStreamFromJson, endStreamFlag, errorFromJsonBytes } from "@connectrpc/connect/protocol-connect";
import type { UnaryCalls } from "./rpc.ts";

/** Where and how an in-process call runs: the caller's headers (auth), its CallRecord, its signal. */
export interface InvokeOptions {
  header: Headers;
  contextValues: ContextValues;
  signal: AbortSignal;
  maxMessageBytes: number;
}

/**
 * Connect's universal handlers by request path, which can also call a unary method directly
 * (`direct`): the same request gate and interceptor array the router runs, on the message
 * object itself, without encoding it to bytes and back (createRpc builds one).
 */
export class RpcHandlers extends Map<string, UniversalHandler> {
  constructor(
    entries: Iterable<readonly [string, UniversalHandler]>,
    readonly direct?: UnaryCalls,
  ) {
    super(entries);
  }
}

/**
 * Calls a unary RPC in-process as a client would: the request gate (auth) and every
 * interceptor (validation, errors, rate limits, the call record) run exactly as for a network
 * call. With `RpcHandlers` the call is direct (measured: bench/results/*-rest-direct.md);
 * with a plain map of handlers it goes through the Connect handler in binary.
 * Throws the ConnectError the call answered.
 */
export async function invokeUnary<I extends DescMessage, O extends DescMessage>(
  handlers: Map<string, UniversalHandler>,
  method: DescMethod & { input: I; output: O },
  input: MessageShape<I>,
  options: InvokeOptions,
): Promise<MessageShape<O>> {
  const direct = handlers instanceof RpcHandlers ? handlers.direct : undefined;
  const spec = direct?.specs.get(`/${method.parent.typeName}/${method.name}`);
  if (direct && spec) {
    const context = inProcessContext(method, options, direct.shutdownSignal);
    try {
      if (direct.requestGate) await direct.requestGate(context);
      return (await invokeUnaryImplementation(spec, context, input as never, direct.interceptors)) as MessageShape<O>;
    } catch (error) {
      throw error instanceof ConnectError ? error : new ConnectError("internal error", Code.Internal, undefined, undefined, error);
    } finally {
      context.done();
    }
  }
  const res = await callHandler(handlers, method, "application/proto", toBinary(method.input, input), options);
  const bytes = await readAllBytes(res.body ?? createAsyncIterable([]), options.maxMessageBytes);
  if (res.status !== 200) throw errorFromJsonBytes(bytes, undefined, new ConnectError(`HTTP ${res.status}`, Code.Unknown));
  return fromBinary(method.output, bytes);
}

/** Why a call's signal aborts once it is over (as Connect's handler context does); lean-grpc.ts uses it too. */
export const CALL_DONE = new ConnectError("the call is complete", Code.Canceled);
const SHUTDOWN = new ConnectError("server is shutting down", Code.Unavailable);

/**
 * The HandlerContext of an in-process unary call: the caller's headers, its context values,
 * one signal that aborts when the caller's does (the client went away), at shutdown, and once
 * the call is over — what Connect's `createHandlerContext` gives a handler, with one controller.
 */
function inProcessContext(method: DescMethod, options: InvokeOptions, shutdown: AbortSignal): HandlerContext & { done(): void } {
  const controller = new AbortController();
  const caller = options.signal;
  const onCaller = () => controller.abort(caller.reason);
  const onShutdown = () => controller.abort(shutdown.reason ?? SHUTDOWN);
  if (caller.aborted) onCaller();
  else caller.addEventListener("abort", onCaller, { once: true });
  if (shutdown.aborted) onShutdown();
  else shutdown.addEventListener("abort", onShutdown, { once: true });
  return {
    service: method.parent,
    method,
    protocolName: "connect",
    requestMethod: "POST",
    url: `http://in-process/${method.parent.typeName}/${method.name}`,
    signal: controller.signal,
    timeoutMs: () => undefined,
    requestHeader: options.header,
    responseHeader: new Headers(),
    responseTrailer: new Headers(),
    values: options.contextValues,
    done() {
      caller.removeEventListener("abort", onCaller);
      shutdown.removeEventListener("abort", onShutdown);
      if (!controller.signal.aborted) controller.abort(CALL_DONE);
    },
  } as HandlerContext & { done(): void };
}

/** Calls a server-streaming RPC in-process; yields its messages, throws its final error. */
export async function* invokeServerStream<I extends DescMessage, O extends DescMessage>(
  handlers: Map<string, UniversalHandler>,
  method: DescMethod & { input: I; output: O },
  input: MessageShape<I>,
  options: InvokeOptions,
): AsyncGenerator<MessageShape<O>> {
  const res = await callHandler(handlers, method, "application/connect+proto", encodeEnvelope(0, toBinary(method.input, input)), options);
  if (res.status !== 200) {
    const bytes = await readAllBytes(res.body ?? createAsyncIterable([]), options.maxMessageBytes);
    throw errorFromJsonBytes(bytes, undefined, new ConnectError(`HTTP ${res.status}`, Code.Unknown));
  }
  for await (const envelope of pipe(res.body ?? createAsyncIterable([]), transformSplitEnvelope(options.maxMessageBytes))) {
    if ((envelope.flags & endStreamFlag) === endStreamFlag) {
      const end = endStreamFromJson(envelope.data);
      if (end.error) throw end.error;
      return;
    }
    yield fromBinary(method.output, envelope.data);
  }
}

/** Sends one Connect-protocol request, in binary, to the method's handler. */
function callHandler(handlers: Map<string, UniversalHandler>, method: DescMethod, contentType: string, body: Uint8Array, options: InvokeOptions) {
  const handler = handlers.get(`/${method.parent.typeName}/${method.name}`);
  if (!handler) throw new ConnectError(`${method.parent.typeName}.${method.name} is not served`, Code.Unimplemented);
  const header = new Headers(options.header);
  header.set("content-type", contentType);
  header.set("connect-protocol-version", "1");
  header.delete("content-length");
  return handler({
    httpVersion: "2.0",
    method: "POST",
    url: `http://in-process/${method.parent.typeName}/${method.name}`,
    header,
    body: createAsyncIterable([body]),
    signal: options.signal,
    contextValues: options.contextValues,
  });
}
