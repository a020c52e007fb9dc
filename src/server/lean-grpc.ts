import type { DescMessage, MessageShape } from "@bufbuild/protobuf";
import { Code, ConnectError, type ContextValues, type MethodImplSpec } from "@connectrpc/connect";
import { createMethodSerializationLookup, invokeUnaryImplementation, transformInvokeImplementation } from "@connectrpc/connect/protocol";
import { contentTypeProto, setTrailerStatus } from "@connectrpc/connect/protocol-grpc";
import { Counter, type Registry } from "../system/prom.ts";
import type { ServerHttp2Stream } from "node:http2";
import type { NodeRequest, NodeResponse } from "./http-io.ts";
import { sendTrailersWithData } from "./h2-trailers.ts";
import { CALL_DONE } from "./invoke.ts";
import type { UnaryCalls } from "./rpc.ts";

/**
 * The lean gRPC path: a binary (`application/grpc`, `application/grpc+proto`) unary call
 * over HTTP/2 is served without Connect-ES's per-call pipeline (async iterables, envelope
 * transforms, the universal request and response adapters), which cost ~70 % of a call's CPU
 * (bench/results/2026-12-02-per-call.md). What a call *means* is not re-implemented: it runs
 * the same request gate and the same interceptor array (rpc.ts) through Connect's own
 * `invokeUnaryImplementation` with the same implementation specs, (de)serializes with Connect's
 * own limited serializers, and writes the status with Connect's `setTrailerStatus`. Done here:
 * the framing (one length-prefixed message in, headers + one DATA frame + trailers out, in one
 * write where Bun lets it be: h2-trailers.ts) and a HandlerContext like `createHandlerContext`'s
 * with one AbortController instead of three.
 * Server-streaming calls (a worker's ConnectWorker stream) take the same path through Connect's
 * `transformInvokeImplementation`; their messages of one loop turn go out in one write (a
 * dispatch round pushes hundreds): 1.18x the tasks/s of workload A, 0.89x B's p50 (measured
 * side by side on this branch's bench/tasks.ts drivers, 4 interleaved rounds).
 * Results: bench/results/2026-12-02-lean-grpc.md; the two paths compared: test/e2e/lean-grpc.test.ts.
 *
 * Anything irregular is handed to Connect (`fallback`): compressed requests, a body that is not
 * exactly one uncompressed message, a malformed `grpc-timeout`. Connect then answers as it
 * always did, so the two paths differ only in speed.
 */

export type LeanUnary = MethodImplSpec & { kind: "unary" };
/** A server-streaming method (ConnectWorker): one request message, a stream of answers. */
export type LeanServerStream = MethodImplSpec & { kind: "server_streaming" };

/** How the HTTP layer hands an irregular call to Connect: the bytes already read come first. */
export type Fallback = (body: AsyncIterable<Uint8Array>) => Promise<void>;

/** The per-method pieces, made once. */
interface Prepared {
  spec: LeanUnary | LeanServerStream;
  serialization: ReturnType<typeof createMethodSerializationLookup>;
}

const GRPC_UNITS: Record<string, number> = { H: 3_600_000, M: 60_000, S: 1000, m: 1, u: 0.001, n: 0.000001 };
const TIMEOUT = /^(\d{1,8})([HMSmun])$/;

export interface LeanGrpc {
  /** The lean call for this request, or undefined when it must go through Connect. */
  match(path: string, req: NodeRequest): Prepared | undefined;
  /** `tooLarge` is the refusal of a message over the limit (the HTTP layer's, shared with the Connect path). */
  serve(call: Prepared, req: NodeRequest, res: NodeResponse, contextValues: ContextValues, tooLarge: (size: number) => Error, fallback: Fallback): Promise<void>;
}

/** True for the content types of binary gRPC (what Connect's gRPC handler reads as binary). */
function binaryGrpc(type: string | undefined): boolean {
  if (type === undefined) return false;
  const t = type.length === 16 ? type : type.toLowerCase();
  return t === "application/grpc" || t === "application/grpc+proto";
}

export function createLeanGrpc(calls: UnaryCalls, registry?: Registry, options: { trailersWithData?: boolean } = {}): LeanGrpc {
  const { trailersWithData: early = true } = options;
  const prepared = new Map<string, Prepared>();
  // Counted in a plain number, read by the metric only when scraped.
  let served = 0;
  let handedOn = 0;
  let answered = 0;
  let trailersWithData = 0;
  if (registry) {
    new Counter({
      name: "switchyard_grpc_lean_calls_total",
      help: "Unary gRPC calls that took the lean path (path=lean) or were handed to Connect after their body was read (path=connect)",
      labelNames: ["path"] as const,
      registers: [registry],
      collect() {
        this.reset();
        this.inc({ path: "lean" }, served - handedOn);
        this.inc({ path: "connect" }, handedOn);
      },
    });
    new Counter({
      name: "switchyard_grpc_lean_trailers_total",
      help: "Successful lean unary answers by how their trailers left: in the same write as the data (write=with_data, src/server/h2-trailers.ts) or when the stream asked for them (write=after_data)",
      labelNames: ["write"] as const,
      registers: [registry],
      collect() {
        this.reset();
        this.inc({ write: "with_data" }, trailersWithData);
        this.inc({ write: "after_data" }, answered - trailersWithData);
      },
    });
  }
  const limits = { readMaxBytes: calls.maxMessageBytes, writeMaxBytes: calls.maxMessageBytes };
  const live: LiveCalls = { signal: calls.shutdownSignal, ends: new Set() };
  calls.shutdownSignal.addEventListener("abort", () => {
    for (const end of [...live.ends]) end(calls.shutdownSignal.reason);
  }, { once: true });
  for (const [path, spec] of [...calls.specs, ...calls.streams]) {
    prepared.set(path, { spec, serialization: createMethodSerializationLookup(spec.method, undefined, undefined, limits) });
  }

  /** A call's context; its `grpc-timeout`, if any, is well-formed (match() checked it). */
  function contextFor(spec: LeanUnary | LeanServerStream, req: NodeRequest, contextValues: ContextValues) {
    const timeout = req.headers["grpc-timeout"] as string | undefined;
    const m = timeout === undefined ? null : TIMEOUT.exec(timeout);
    return callContext(spec.method, req, m ? Number(m[1]) * GRPC_UNITS[m[2]!]! : undefined, live, contextValues);
  }

  /**
   * The request gate (as in Connect, before the body is read), then the one request message;
   * an irregular body is to be handed to Connect, with the bytes read so far.
   */
  async function readInput(call: Prepared, context: ReturnType<typeof callContext>, req: NodeRequest, tooLarge: (size: number) => Error): Promise<{ input: MessageShape<DescMessage> } | { fallback: AsyncIterable<Uint8Array> }> {
    if (calls.requestGate) await calls.requestGate(context);
    const read = await readOneMessage(req, calls.maxMessageBytes, tooLarge);
    if ("fallback" in read) {
      handedOn++;
      context.end();
      return read;
    }
    return { input: call.serialization.getI(true).parse(read.message) as MessageShape<DescMessage> };
  }

  /**
   * A server-streaming call: the request message is read and judged as a unary one's, the
   * implementation runs under the same interceptors through Connect's own
   * `transformInvokeImplementation`, and the answers are written as Connect writes them
   * (headers once the first answer is there, status in the trailers, a thrown error as the
   * status) but without its per-message pipeline: the messages produced in one turn of the
   * loop (a dispatch round pushes many assignments at once) go out in one write.
   */
  async function serveStream(call: Prepared, spec: LeanServerStream, req: NodeRequest, res: NodeResponse, contextValues: ContextValues, tooLarge: (size: number) => Error, fallback: Fallback): Promise<void> {
    const context = contextFor(spec, req, contextValues);
    const writer = coalescingWriter(res);
    let headersSent = false;
    const sendHeaders = () => {
      if (headersSent || res.destroyed || res.writableEnded) return;
      headersSent = true;
      res.writeHead(200, nodeHeaders(context.responseHeader));
    };
    let it: AsyncIterator<unknown> | undefined;
    let ended = false;
    try {
      const read = await readInput(call, context, req, tooLarge);
      if ("fallback" in read) return fallback(read.fallback);
      const serialize = call.serialization.getO(true);
      it = transformInvokeImplementation(spec, context, calls.interceptors)(oneMessage(read.input))[Symbol.asyncIterator]();
      for (let r = await it.next(); ; r = await it.next()) {
        if (r.done) {
          ended = true;
          break;
        }
        if (res.destroyed) break;
        const bytes = frame(serialize.serialize(r.value as MessageShape<DescMessage>));
        sendHeaders();
        await writer.push(bytes);
      }
    } catch (e) {
      context.end(e);
      setTrailerStatus(context.responseTrailer, e instanceof ConnectError ? e : new ConnectError("internal error", Code.Internal, undefined, undefined, e));
    } finally {
      // Stopped before its end (the client went away, an answer that could not be serialized):
      // the implementation's own cleanup runs now (a no-op for one that threw: it is over).
      if (it && !ended) await it.return?.().catch(() => {});
      context.end();
    }
    if (res.destroyed || res.writableEnded) return;
    writer.flush();
    sendHeaders();
    res.addTrailers(nodeHeaders(context.responseTrailer));
    res.end();
  }

  return {
    match(path, req) {
      const call = prepared.get(path);
      if (!call) return undefined;
      if (req.httpVersionMajor !== 2 || req.method !== "POST") return undefined;
      const h = req.headers;
      if (!binaryGrpc(h["content-type"])) return undefined;
      const encoding = h["grpc-encoding"];
      if (encoding !== undefined && encoding !== "identity") return undefined;
      const timeout = h["grpc-timeout"];
      if (timeout !== undefined) {
        // Malformed or too long: Connect and the HTTP layer refuse it as they always did.
        const m = TIMEOUT.exec(timeout as string);
        if (!m || Number(m[1]) * GRPC_UNITS[m[2]!]! > calls.maxDeadlineMs) return undefined;
      }
      return call;
    },

    async serve(call, req, res, contextValues, tooLarge, fallback) {
      const { spec } = call;
      served++;
      if (spec.kind === "server_streaming") return serveStream(call, spec, req, res, contextValues, tooLarge, fallback);
      const context = contextFor(spec, req, contextValues);
      let out: Uint8Array | undefined;
      try {
        const read = await readInput(call, context, req, tooLarge);
        if ("fallback" in read) return fallback(read.fallback);
        const output = await invokeUnaryImplementation(spec, context, read.input, calls.interceptors);
        out = frame(call.serialization.getO(true).serialize(output));
      } catch (e) {
        out = undefined;
        context.end(e);
        setTrailerStatus(context.responseTrailer, e instanceof ConnectError ? e : new ConnectError("internal error", Code.Internal, undefined, undefined, e));
      } finally {
        context.end();
      }
      if (res.destroyed || res.writableEnded) return;
      res.writeHead(200, nodeHeaders(context.responseHeader));
      const trailers = nodeHeaders(context.responseTrailer);
      res.addTrailers(trailers);
      if (!out) return void res.end();
      answered++;
      res.end(out);
      const stream = (res as unknown as { stream?: ServerHttp2Stream }).stream;
      if (early && stream && sendTrailersWithData(stream, trailers)) trailersWithData++;
    },
  };
}


/**
 * The HandlerContext Connect's `createHandlerContext` builds, with one AbortController instead
 * of three linked ones: it aborts when the deadline passes (`deadline_exceeded`, as Connect),
 * when the client resets the stream or goes away, when the server shuts down, and once the call
 * is over (`end`).
 */
/** The calls in flight; one listener on the shutdown signal ends them all (not one listener per call). */
interface LiveCalls {
  readonly signal: AbortSignal;
  readonly ends: Set<(reason: unknown) => void>;
}

function callContext(method: (LeanUnary | LeanServerStream)["method"], req: NodeRequest, timeoutMs: number | undefined, live: LiveCalls, values: ContextValues) {
  const shutdown = live.signal;
  const controller = new AbortController();
  const signal = controller.signal;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const onClose = () => end(new ConnectError("the client closed the stream", Code.Canceled));
  const end = (reason: unknown = CALL_DONE) => {
    if (signal.aborted) return;
    if (timer !== undefined) clearTimeout(timer);
    live.ends.delete(end);
    req.off("close", onClose);
    controller.abort(reason);
  };
  if (shutdown.aborted) controller.abort(shutdown.reason);
  else live.ends.add(end);
  req.once("close", onClose);
  let deadline: number | undefined;
  if (timeoutMs !== undefined) {
    deadline = Date.now() + timeoutMs;
    const expire = () => end(new ConnectError("the operation timed out", Code.DeadlineExceeded));
    if (timeoutMs <= 0) expire();
    else timer = setTimeout(expire, timeoutMs);
  }
  return {
    service: method.parent,
    method,
    protocolName: "grpc",
    requestMethod: "POST",
    url: `http://${(req.headers[":authority"] as string | undefined) ?? req.headers.host ?? "switchyard"}${req.url}`,
    signal,
    timeoutMs: () => (deadline === undefined ? undefined : deadline - Date.now()),
    requestHeader: requestHeaders(req),
    responseHeader: new Headers({ "content-type": contentTypeProto }),
    responseTrailer: new Headers({ "grpc-status": "0" }),
    values,
    abort: end,
    end,
  };
}

/** The request metadata as Connect hands it to a handler (pseudo-headers left out). */
function requestHeaders(req: NodeRequest): Headers {
  const header = new Headers();
  const h = req.headers;
  for (const k in h) {
    if (k.charCodeAt(0) === 58 /* : */) continue;
    const v = h[k];
    if (v === undefined) continue;
    if (typeof v === "string") header.append(k, v);
    else if (typeof v === "number") header.append(k, String(v));
    else for (const e of v) header.append(k, e);
  }
  return header;
}

/** Headers for node:http2 (set-cookie stays a list, as Connect's adapter writes it). */
function nodeHeaders(headers: Headers): Record<string, string | string[]> {
  const o: Record<string, string | string[]> = Object.create(null);
  headers.forEach((value, key) => {
    if (key === "set-cookie") o[key] = headers.getSetCookie();
    else o[key] = value;
  });
  return o;
}

function frame(message: Uint8Array): Uint8Array {
  const out = new Uint8Array(5 + message.byteLength);
  const n = message.byteLength;
  out[1] = n >>> 24;
  out[2] = (n >>> 16) & 0xff;
  out[3] = (n >>> 8) & 0xff;
  out[4] = n & 0xff;
  out.set(message, 5);
  return out;
}

/**
 * Reads a request body that should be exactly one uncompressed length-prefixed message. A
 * declared length over `maxBytes` is refused at once; anything else irregular (compressed
 * flag, a short or longer body, several messages) returns the bytes read so far followed by
 * the rest of the body, for Connect to judge.
 */
function readOneMessage(req: NodeRequest, maxBytes: number, tooLarge: (size: number) => Error): Promise<{ message: Uint8Array } | { fallback: AsyncIterable<Uint8Array> }> {
  return new Promise((resolve, reject) => {
    const chunks: Uint8Array[] = [];
    let size = 0;
    let declared = -1;
    const stop = () => {
      req.off("data", onData);
      req.off("end", onEnd);
      req.off("error", onError);
      req.off("close", onClose);
    };
    // The bytes read so far, then the rest of the body (the stream resumes when iterated).
    const handOn = () => {
      stop();
      req.pause();
      const it = (req as AsyncIterable<Uint8Array>)[Symbol.asyncIterator]();
      resolve({
        fallback: {
          async *[Symbol.asyncIterator]() {
            yield* chunks;
            for (let r = await it.next(); !r.done; r = await it.next()) yield r.value;
          },
        },
      });
    };
    const onData = (chunk: Uint8Array) => {
      chunks.push(chunk);
      size += chunk.byteLength;
      if (declared < 0 && size >= 5) {
        const head = chunks.length === 1 ? chunks[0]! : concat(chunks, size);
        if (head[0] !== 0) return handOn();
        declared = ((head[1]! << 24) >>> 0) + (head[2]! << 16) + (head[3]! << 8) + head[4]!;
        if (declared > maxBytes) {
          stop();
          return reject(tooLarge(declared));
        }
      }
      if (declared >= 0 && size > declared + 5) handOn();
    };
    const onEnd = () => {
      if (declared < 0 || size !== declared + 5) {
        stop();
        resolve({ fallback: { async *[Symbol.asyncIterator]() { yield* chunks; } } });
        return;
      }
      stop();
      const body = chunks.length === 1 ? chunks[0]! : concat(chunks, size);
      resolve({ message: body.subarray(5) });
    };
    const onError = (error: Error) => {
      stop();
      reject(new ConnectError(`the request body could not be read: ${error.message}`, Code.Canceled, undefined, undefined, error));
    };
    // A stream reset before its body ended: no "end" will come, so the read must not wait for it.
    const onClose = () => {
      stop();
      reject(new ConnectError("the client closed the stream before sending its message", Code.Canceled));
    };
    // Reset while the gate ran: its events are gone already.
    if (req.destroyed) return reject(new ConnectError("the client closed the stream before sending its message", Code.Canceled));
    req.on("data", onData);
    req.once("end", onEnd);
    req.once("error", onError);
    req.once("close", onClose);
  });
}

function concat(chunks: Uint8Array[], size: number): Uint8Array {
  const out = new Uint8Array(size);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.byteLength;
  }
  return out;
}

/** The request of a server-streaming call, as the one-message stream Connect's transform takes. */
async function* oneMessage<T>(message: T): AsyncIterable<T> {
  yield message;
}

/** Most bytes of stream messages held before they are written without waiting for the turn to end. */
const COALESCE_BYTES = 64 * 1024;

/**
 * Writes a stream's framed messages, those of one turn of the loop together (one write, one
 * socket write instead of one per message: a dispatch round pushes hundreds). `push` waits while
 * the stream is over its buffer (backpressure: "drain", or the stream closing).
 */
function coalescingWriter(res: NodeResponse) {
  let frames: Uint8Array[] = [];
  let size = 0;
  let scheduled = false;
  let blocked: Promise<void> | undefined;
  const flush = () => {
    scheduled = false;
    if (frames.length === 0) return;
    const chunk = frames.length === 1 ? frames[0]! : concat(frames, size);
    frames = [];
    size = 0;
    if (res.destroyed || res.writableEnded) return;
    if (!res.write(chunk) && !blocked) {
      blocked = new Promise<void>((resolve) => {
        const go = () => {
          res.off("drain", go);
          res.off("close", go);
          blocked = undefined;
          resolve();
        };
        res.on("drain", go);
        res.on("close", go);
      });
    }
  };
  return {
    flush,
    push(bytes: Uint8Array): Promise<void> | undefined {
      frames.push(bytes);
      size += bytes.byteLength;
      if (size >= COALESCE_BYTES) flush();
      else if (!scheduled) {
        scheduled = true;
        setImmediate(flush);
      }
      return blocked;
    },
  };
}
