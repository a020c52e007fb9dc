// gRPC over HTTP/2 straight on node:http2 (Node and Bun), as a Connect `Transport`: generated
// clients, interceptors, deadlines, signals and errors (codes, messages, details, metadata)
// behave as with @connectrpc/connect-node's gRPC transport. It skips that transport's generic
// machinery (async-iterable pipelines and a universal HTTP client around every call), which is
// most of a small call's client CPU: `bun run bench client-transport` measures both.
//
// Binary protobuf, no compression (Switchyard answers uncompressed unless asked). Interceptors,
// deadline and signal handling are Connect's own (`runUnaryCall` / `runStreamingCall`); status
// parsing too (`findTrailerError`, which decodes grpc-status-details-bin). The SDK pins
// @connectrpc/connect to one version, so its protocol helpers are a fixed dependency.
import http2 from "node:http2";
import { fromBinary, toBinary, type BinaryReadOptions, type BinaryWriteOptions, type DescMessage, type DescMethod } from "@bufbuild/protobuf";
import { Code, ConnectError, createContextValues, type ContextValues, type Interceptor, type Transport } from "@connectrpc/connect";
import { runStreamingCall, runUnaryCall } from "@connectrpc/connect/protocol";
import { findTrailerError } from "@connectrpc/connect/protocol-grpc";

export interface H2TransportOptions {
  /** `http://host:port` (h2c) or `https://host:port` (TLS); a path is a prefix of every method's. */
  baseUrl: string;
  interceptors?: Interceptor[];
  /** The deadline of calls that set none (ms); none by default. */
  defaultTimeoutMs?: number;
  /** The largest response message accepted (bytes, default 64 MiB); a larger one fails the call with `resource_exhausted`. */
  readMaxBytes?: number;
  /** The largest request message sent (bytes, default 64 MiB); a larger one fails the call with `resource_exhausted` before it is sent. */
  writeMaxBytes?: number;
  binaryOptions?: Partial<BinaryReadOptions & BinaryWriteOptions>;
  /** Passed to `http2.connect` (TLS: `ca`, `cert`, `key`, `servername`; HTTP/2 `settings`). */
  nodeOptions?: http2.ClientSessionOptions | http2.SecureClientSessionOptions;
  /** A connection with no open stream closes after this long (ms, default 15 min). */
  idleConnectionTimeoutMs?: number;
  /** While streams are open, PING the server this often (ms); a PING unanswered within
   * `pingTimeoutMs` (default 15 s) closes the connection and fails its calls with `unavailable`.
   * Off by default; set it for long-lived streams across networks that drop idle flows. */
  pingIntervalMs?: number;
  pingTimeoutMs?: number;
}

const MiB = 1024 * 1024;
const USER_AGENT = "switchyard-sdk-ts/0.1.0";
const { NGHTTP2_CANCEL, NGHTTP2_NO_ERROR } = http2.constants;
/** Parsed messages a stream holds before it stops reading from the socket (flow control does the rest). */
const STREAM_BUFFERED = 32;

/** A transport speaking gRPC (binary protobuf) over one HTTP/2 connection to `baseUrl`, reconnecting as needed. */
export function createH2GrpcTransport(options: H2TransportOptions): Transport {
  const url = new URL(options.baseUrl);
  if (url.protocol !== "http:" && url.protocol !== "https:") throw new ConnectError(`baseUrl ${options.baseUrl}: expected http:// or https://`, Code.InvalidArgument);
  const prefix = url.pathname.replace(/\/+$/, "");
  const opt = {
    interceptors: options.interceptors ?? [],
    readMaxBytes: options.readMaxBytes ?? 64 * MiB,
    writeMaxBytes: options.writeMaxBytes ?? 64 * MiB,
    binaryOptions: options.binaryOptions,
  };
  const pool = new Connections(`${url.protocol}//${url.host}`, options);
  const paths = new Map<DescMethod, string>();
  const pathOf = (m: DescMethod) => {
    let p = paths.get(m);
    if (p === undefined) paths.set(m, (p = `${prefix}/${m.parent.typeName}/${m.name}`));
    return p;
  };
  const deadline = (t: number | undefined) => (t === undefined ? options.defaultTimeoutMs : t <= 0 ? undefined : t);
  const requestHeader = (timeoutMs: number | undefined, user: HeadersInit | undefined) => {
    const h = new Headers(user);
    h.set("content-type", "application/grpc+proto");
    h.set("te", "trailers");
    if (!h.has("user-agent")) h.set("user-agent", USER_AGENT);
    if (timeoutMs !== undefined) h.set("grpc-timeout", grpcTimeout(timeoutMs));
    return h;
  };
  const request = <S extends boolean, D extends DescMethod, M>(stream: S, method: D, timeoutMs: number | undefined, header: HeadersInit | undefined, message: M, contextValues: ContextValues | undefined) => ({
    stream,
    service: method.parent,
    method,
    requestMethod: "POST",
    url: `${url.origin}${pathOf(method)}`,
    header: requestHeader(timeoutMs, header),
    contextValues: contextValues ?? createContextValues(),
    message,
  });
  const encode = (schema: DescMessage, message: object) => {
    const bytes = toBinary(schema, message as never, opt.binaryOptions);
    if (bytes.byteLength > opt.writeMaxBytes) {
      throw new ConnectError(`message size ${bytes.byteLength} is larger than configured writeMaxBytes ${opt.writeMaxBytes}`, Code.ResourceExhausted);
    }
    return frame(bytes);
  };

  return {
    async unary(method, signal, timeoutMs, header, input, contextValues) {
      timeoutMs = deadline(timeoutMs);
      return await runUnaryCall({
        interceptors: opt.interceptors,
        signal,
        timeoutMs,
        req: request(false, method, timeoutMs, header, input, contextValues),
        next: async (req) => {
          const body = encode(method.input, req.message);
          const res = await pool.unary(h2Headers(pathOf(method), req.header), body, req.signal, opt.readMaxBytes);
          const messages = res.messages;
          if (messages.length > 1) throw new ConnectError("protocol error: received extra output message for unary method", Code.Unimplemented);
          throwStatus(res.header, res.trailer);
          if (messages.length === 0) {
            throw new ConnectError("protocol error: missing output message for unary method", res.header.has("grpc-status") || res.trailer.has("grpc-status") ? Code.Unimplemented : Code.Unknown);
          }
          return { stream: false as const, service: method.parent, method, header: res.header, message: fromBinary(method.output, messages[0]!, opt.binaryOptions), trailer: res.trailer };
        },
      });
    },

    async stream(method, signal, timeoutMs, header, input, contextValues) {
      if (method.methodKind !== "server_streaming") {
        // Switchyard's API has unary and server-streaming methods only.
        throw new ConnectError(`${method.methodKind} calls are not supported by this transport; use @connectrpc/connect-node's createGrpcTransport`, Code.Unimplemented);
      }
      timeoutMs = deadline(timeoutMs);
      return runStreamingCall({
        interceptors: opt.interceptors,
        signal,
        timeoutMs,
        req: request(true, method, timeoutMs, header, input, contextValues),
        next: async (req) => {
          let input: object | undefined;
          for await (const m of req.message) {
            input = m;
            break;
          }
          if (input === undefined) throw new ConnectError("protocol error: missing request message for server streaming method", Code.Internal);
          const call = pool.open(h2Headers(pathOf(method), req.header), encode(method.input, input), req.signal, opt.readMaxBytes);
          const resHeader = await call.response;
          const trailersOnly = resHeader.has("grpc-status");
          if (trailersOnly) throwStatus(resHeader, call.trailer);
          const output = method.output;
          const binaryOptions = opt.binaryOptions;
          return {
            ...req,
            header: resHeader,
            trailer: call.trailer,
            message: (async function* () {
              for (;;) {
                const bytes = await call.next();
                if (bytes === undefined) break;
                yield fromBinary(output, bytes, binaryOptions);
              }
              if (!trailersOnly) {
                throwStatus(resHeader, call.trailer);
                if (!call.trailer.has("grpc-status")) throw new ConnectError("protocol error: missing status", Code.Internal);
              }
            })(),
          } as never;
        },
      });
    },
  };
}

/** `grpc-timeout` for a deadline in ms (at most 8 digits, so long ones go in seconds). */
function grpcTimeout(ms: number): string {
  return ms < 1e8 ? `${Math.max(1, Math.ceil(ms))}m` : `${Math.ceil(ms / 1000)}S`;
}

function frame(message: Uint8Array): Uint8Array {
  const out = new Uint8Array(5 + message.byteLength);
  new DataView(out.buffer).setUint32(1, message.byteLength);
  out.set(message, 5);
  return out;
}

function h2Headers(path: string, header: Headers): http2.OutgoingHttpHeaders {
  const h: http2.OutgoingHttpHeaders = { ":method": "POST", ":path": path };
  header.forEach((v, k) => (h[k] = v));
  return h;
}

function toHeaders(h: http2.IncomingHttpHeaders): Headers {
  const out = new Headers();
  for (const k in h) {
    if (k.charCodeAt(0) === 58 /* : */) continue;
    const v = h[k];
    if (Array.isArray(v)) for (const x of v) out.append(k, x);
    else if (v !== undefined) out.set(k, String(v));
  }
  return out;
}

/** Throws the call's error status: the trailers', with the header in its metadata, or for a
 * trailers-only response (the status in the head, as for an unknown method) the head's. */
function throwStatus(header: Headers, trailer: Headers): void {
  const trailersOnly = !trailer.has("grpc-status") && header.has("grpc-status");
  const err = findTrailerError(trailersOnly ? header : trailer);
  if (!err) return;
  if (!trailersOnly) header.forEach((v, k) => err.metadata.append(k, v));
  throw err;
}

/** The gRPC code for an HTTP status that is not 200 (gRPC's http-grpc-status-mapping). */
function codeFromHttpStatus(status: number): Code {
  switch (status) {
    case 400:
      return Code.Internal;
    case 401:
      return Code.Unauthenticated;
    case 403:
      return Code.PermissionDenied;
    case 404:
      return Code.Unimplemented;
    case 429:
    case 502:
    case 503:
    case 504:
      return Code.Unavailable;
    default:
      return Code.Unknown;
  }
}

/** The response head: status 200 and a gRPC content type, else the call fails. */
function checkHead(h: http2.IncomingHttpHeaders): Headers {
  const header = toHeaders(h);
  const status = Number(h[":status"]);
  if (status !== 200) throw new ConnectError(`HTTP ${status}`, codeFromHttpStatus(status), header);
  const type = String(h["content-type"] ?? "");
  if (!/^application\/grpc(\+proto)?(;|$)/i.test(type)) throw new ConnectError(`unsupported content type ${type}`, Code.Unknown, header);
  return header;
}

/** Node error codes of a server that cannot be reached or went away: `unavailable`, which callers retry. */
const CONNECTION_LOST = new Set(["ECONNREFUSED", "ENOTFOUND", "EAI_AGAIN", "ETIMEDOUT", "EHOSTUNREACH", "ENETUNREACH", "ECONNRESET", "EPIPE", "ERR_HTTP2_GOAWAY_SESSION", "ERR_HTTP2_SESSION_ERROR", "ERR_HTTP2_STREAM_CANCEL", "ERR_HTTP2_INVALID_SESSION"]);

/** What a stream's reset or a connection's failure means to the caller. */
function streamError(e: unknown, rstCode: number | undefined): ConnectError {
  if (e instanceof ConnectError) return e;
  const code = (e as { code?: unknown } | undefined)?.code;
  if (e !== undefined) return ConnectError.from(e, typeof code === "string" && CONNECTION_LOST.has(code) ? Code.Unavailable : Code.Internal);
  switch (rstCode) {
    case http2.constants.NGHTTP2_REFUSED_STREAM:
      return new ConnectError("http/2 stream refused by the server", Code.Unavailable);
    case NGHTTP2_CANCEL:
      return new ConnectError("http/2 stream cancelled by the server", Code.Canceled);
    case http2.constants.NGHTTP2_ENHANCE_YOUR_CALM:
      return new ConnectError("http/2 stream reset: ENHANCE_YOUR_CALM", Code.ResourceExhausted);
    case http2.constants.NGHTTP2_INADEQUATE_SECURITY:
    case http2.constants.NGHTTP2_HTTP_1_1_REQUIRED:
      return new ConnectError(`http/2 stream reset with code ${rstCode}`, Code.PermissionDenied);
    case undefined:
    case NGHTTP2_NO_ERROR:
      return new ConnectError("http/2 stream closed before the response ended (connection lost)", Code.Unavailable);
    default:
      return new ConnectError(`http/2 stream reset with code ${rstCode}`, Code.Internal);
  }
}

/** Why a stream closed before its status: its connection was lost (Bun reports a dropped socket
 * as a clean end, or as a CANCEL reset), or the server reset it. */
function cutOff(st: http2.ClientHttp2Stream): ConnectError {
  const session = st.session;
  if (!session || session.destroyed || session.closed) return new ConnectError("connection lost before the response ended", Code.Unavailable);
  return streamError(undefined, st.rstCode);
}

/** Cuts gRPC length-prefixed messages out of DATA chunks, copying a message's chunks together
 * once, when it is complete (not on every chunk). */
class MessageReader {
  private chunks: Uint8Array[] = [];
  private size = 0;
  private need = 5;
  constructor(private readonly readMaxBytes: number) {}

  /** Bytes of an incomplete message still held. */
  get pending(): number {
    return this.size;
  }

  push(chunk: Uint8Array, out: Uint8Array[]): void {
    this.chunks.push(chunk);
    this.size += chunk.byteLength;
    if (this.size < this.need) return;
    const buf = this.chunks.length === 1 ? this.chunks[0]! : Buffer.concat(this.chunks, this.size);
    let at = 0;
    this.need = 5;
    while (buf.byteLength - at >= 5) {
      const flags = buf[at]!;
      const len = ((buf[at + 1]! << 24) >>> 0) + (buf[at + 2]! << 16) + (buf[at + 3]! << 8) + buf[at + 4]!;
      if (len > this.readMaxBytes) throw new ConnectError(`message size ${len} is larger than configured readMaxBytes ${this.readMaxBytes}`, Code.ResourceExhausted);
      if (flags !== 0) throw new ConnectError(`protocol error: message flags 0x${flags.toString(16)} (compression is not negotiated)`, Code.Internal);
      if (buf.byteLength - at - 5 < len) {
        this.need = 5 + len;
        break;
      }
      out.push(buf.subarray(at + 5, at + 5 + len));
      at += 5 + len;
    }
    const rest = buf.subarray(at);
    this.chunks = rest.byteLength > 0 ? [rest] : [];
    this.size = rest.byteLength;
  }
}

interface UnaryResult {
  header: Headers;
  trailer: Headers;
  messages: Uint8Array[];
}

/** One HTTP/2 connection at a time (a new one after GOAWAY, close or failure). */
class Connections {
  private current?: Conn;
  constructor(
    private readonly authority: string,
    private readonly options: H2TransportOptions,
  ) {}

  private conn(): Conn {
    const c = this.current;
    if (c && c.usable()) return c;
    const next = new Conn(this.authority, this.options, () => {
      if (this.current === next) this.current = undefined;
    });
    this.current = next;
    return next;
  }

  /** A unary call: the whole response collected, or the reason it failed. */
  unary(headers: http2.OutgoingHttpHeaders, body: Uint8Array, signal: AbortSignal, readMaxBytes: number): Promise<UnaryResult> {
    return new Promise((resolve, reject) => {
      if (signal.aborted) return reject(signal.reason);
      const st = this.conn().request(headers);
      let header: Headers | undefined;
      let trailer: Headers | undefined;
      const reader = new MessageReader(readMaxBytes);
      const messages: Uint8Array[] = [];
      let failed: unknown;
      let ended = false;
      const fail = (e: unknown) => {
        if (failed !== undefined) return;
        failed = e;
        if (!st.closed) st.close(NGHTTP2_CANCEL);
        signal.removeEventListener("abort", onAbort);
        reject(e);
      };
      const onAbort = () => fail(signal.reason);
      signal.addEventListener("abort", onAbort);
      st.on("response", (h) => {
        try {
          header = checkHead(h);
        } catch (e) {
          fail(e);
        }
      });
      st.on("data", (chunk: Uint8Array) => {
        try {
          reader.push(chunk, messages);
        } catch (e) {
          fail(e);
        }
      });
      st.on("trailers", (t) => (trailer = toHeaders(t)));
      st.on("end", () => (ended = true));
      st.on("error", (e) => fail(streamError(e, undefined)));
      st.on("close", () => {
        if (failed !== undefined) return;
        signal.removeEventListener("abort", onAbort);
        if (!ended || !header || (!trailer && !header.has("grpc-status"))) return fail(cutOff(st));
        if (reader.pending > 0) return reject(new ConnectError("protocol error: incomplete message at the end of the response", Code.Internal));
        resolve({ header, trailer: trailer ?? new Headers(), messages });
      });
      st.end(body);
    });
  }

  /** A server-streaming call of one request message; next() reads the response's. */
  open(headers: http2.OutgoingHttpHeaders, body: Uint8Array, signal: AbortSignal, readMaxBytes: number): StreamCall {
    const st = signal.aborted ? undefined : this.conn().request(headers);
    const call = new StreamCall(st, signal, readMaxBytes);
    st?.end(body);
    return call;
  }
}

class StreamCall {
  readonly trailer = new Headers();
  readonly response: Promise<Headers>;
  private queue: Uint8Array[] = [];
  private readonly reader: MessageReader;
  private ended = false;
  private failure: unknown;
  private wake?: () => void;
  private readonly st?: http2.ClientHttp2Stream;

  constructor(st: http2.ClientHttp2Stream | undefined, signal: AbortSignal, readMaxBytes: number) {
    this.reader = new MessageReader(readMaxBytes);
    let resolveHead!: (h: Headers) => void;
    let rejectHead!: (e: unknown) => void;
    this.response = new Promise((res, rej) => ((resolveHead = res), (rejectHead = rej)));
    this.response.catch(() => {});
    const fail = (e: unknown) => {
      if (this.failure !== undefined) return;
      this.failure = e;
      if (st && !st.closed) st.close(NGHTTP2_CANCEL);
      signal.removeEventListener("abort", onAbort);
      rejectHead(e);
      this.notify();
    };
    const onAbort = () => fail(signal.reason);
    if (!st) {
      fail(signal.reason);
      return;
    }
    this.st = st;
    signal.addEventListener("abort", onAbort);
    st.on("response", (h) => {
      try {
        resolveHead(checkHead(h));
      } catch (e) {
        fail(e);
      }
    });
    st.on("data", (chunk: Uint8Array) => {
      try {
        this.reader.push(chunk, this.queue);
        if (this.queue.length >= STREAM_BUFFERED) st.pause();
        this.notify();
      } catch (e) {
        fail(e);
      }
    });
    let status = false; // a grpc-status came, in the trailers or a trailers-only head
    st.on("trailers", (t) => {
      status = true;
      for (const [k, v] of toHeaders(t)) this.trailer.append(k, v);
    });
    st.once("response", (h) => (status ||= h["grpc-status"] !== undefined));
    st.on("end", () => (this.ended = true));
    st.on("error", (e) => fail(streamError(e, undefined)));
    st.on("close", () => {
      if (this.failure !== undefined) return;
      signal.removeEventListener("abort", onAbort);
      if (!this.ended || !status) return fail(cutOff(st));
      if (this.reader.pending > 0) return fail(new ConnectError("protocol error: incomplete message at the end of the response", Code.Internal));
      this.notify();
    });
  }

  private notify(): void {
    const w = this.wake;
    this.wake = undefined;
    w?.();
  }

  /** The next response message, or undefined once the response ended cleanly. */
  async next(): Promise<Uint8Array | undefined> {
    for (;;) {
      const m = this.queue.shift();
      if (m !== undefined) {
        if (this.queue.length < STREAM_BUFFERED / 2 && this.st?.isPaused()) this.st.resume();
        return m;
      }
      if (this.failure !== undefined) throw this.failure;
      if (this.ended && this.st?.closed) return undefined;
      await new Promise<void>((r) => (this.wake = r));
    }
  }
}

/** One HTTP/2 session, holding the process open only while it has streams. */
class Conn {
  private readonly s: http2.ClientHttp2Session;
  private open = 0;
  private gone = false;
  private idle?: ReturnType<typeof setTimeout>;
  private ping?: ReturnType<typeof setInterval>;

  constructor(authority: string, private readonly options: H2TransportOptions, onGone: () => void) {
    const s = http2.connect(authority, options.nodeOptions);
    this.s = s;
    const gone = () => {
      if (this.gone) return;
      this.gone = true;
      clearTimeout(this.idle);
      clearInterval(this.ping);
      onGone();
    };
    s.on("error", gone); // each open stream reports it too; the next call connects again
    s.on("goaway", gone); // streams in flight finish; new ones go to a new connection
    s.on("close", gone);
    s.unref();
  }

  usable(): boolean {
    return !this.gone && !this.s.closed && !this.s.destroyed;
  }

  request(headers: http2.OutgoingHttpHeaders): http2.ClientHttp2Stream {
    const st = this.s.request(headers, { endStream: false });
    if (this.open++ === 0) this.busy();
    st.once("close", () => {
      if (--this.open === 0) this.quiet();
    });
    return st;
  }

  private busy(): void {
    clearTimeout(this.idle);
    this.s.ref();
    const every = this.options.pingIntervalMs;
    if (every && every > 0 && !this.ping) {
      this.ping = setInterval(() => this.checkAlive(), every);
      this.ping.unref?.();
    }
  }

  private quiet(): void {
    this.s.unref();
    clearInterval(this.ping);
    this.ping = undefined;
    if (this.gone) return;
    this.idle = setTimeout(() => this.s.close(), this.options.idleConnectionTimeoutMs ?? 15 * 60_000);
    this.idle.unref?.();
  }

  private checkAlive(): void {
    const timeout = setTimeout(() => this.s.destroy(new ConnectError("PING unanswered: connection lost", Code.Unavailable)), this.options.pingTimeoutMs ?? 15_000);
    timeout.unref?.();
    try {
      this.s.ping((err) => {
        clearTimeout(timeout);
        if (err && !this.s.destroyed) this.s.destroy(err);
      });
    } catch {
      clearTimeout(timeout);
    }
  }
}
