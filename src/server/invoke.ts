import { fromBinary, toBinary, type DescMethod, type MessageShape, type DescMessage } from "@bufbuild/protobuf";
import { Code, ConnectError, type ContextValues } from "@connectrpc/connect";
import { createAsyncIterable, encodeEnvelope, pipe, readAllBytes, transformSplitEnvelope } from "@connectrpc/connect/protocol";
import type { UniversalHandler } from "@connectrpc/connect/protocol";
import { endStreamFromJson, endStreamFlag, errorFromJsonBytes } from "@connectrpc/connect/protocol-connect";

/** Where and how an in-process call runs: the caller's headers (auth), its CallRecord, its signal. */
export interface InvokeOptions {
  header: Headers;
  contextValues: ContextValues;
  signal: AbortSignal;
  maxMessageBytes: number;
}

/**
 * Calls a unary RPC through its Connect handler, in binary, as a client would: every
 * interceptor (auth, validation, errors, logging) runs exactly as for a network call.
 * Throws the ConnectError the handler answered.
 */
export async function invokeUnary<I extends DescMessage, O extends DescMessage>(
  handlers: Map<string, UniversalHandler>,
  method: DescMethod & { input: I; output: O },
  input: MessageShape<I>,
  options: InvokeOptions,
): Promise<MessageShape<O>> {
  const res = await callHandler(handlers, method, "application/proto", toBinary(method.input, input), options);
  const bytes = await readAllBytes(res.body ?? createAsyncIterable([]), options.maxMessageBytes);
  if (res.status !== 200) throw errorFromJsonBytes(bytes, undefined, new ConnectError(`HTTP ${res.status}`, Code.Unknown));
  return fromBinary(method.output, bytes);
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
