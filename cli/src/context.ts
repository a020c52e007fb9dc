// What every command gets: its output settings and clients for the resolved server.
import type { DescMessage, DescService, MessageShape } from "@bufbuild/protobuf";
import { toJson } from "@bufbuild/protobuf";
import { createClient, type Client, type Interceptor, type Transport } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { createH2GrpcTransport } from "../../sdk/typescript/src/h2-transport.ts";
import { resolveTarget } from "./config.ts";
import { CliError, EXIT } from "./errors.ts";
import type { Format, Json, Out } from "./output.ts";

export interface GlobalFlags {
  server?: string;
  token?: string;
  output: string;
  protocol: string;
  color: boolean;
  width?: string;
  /** Deadline of each call, seconds (`--deadline`; `--timeout` is `tasks create`'s). */
  deadline: string;
}

/** The process around a command: streams, environment, terminal (tests pass their own). */
export interface Io {
  stdout(text: string): void;
  stderr(text: string): void;
  stdin(): Promise<string>;
  env: Record<string, string | undefined>;
  isTTY: boolean;
  columns?: number;
}

export function processIo(): Io {
  return {
    stdout: (s) => void process.stdout.write(s),
    stderr: (s) => void process.stderr.write(s),
    stdin: () => new Response(Bun.stdin.stream()).text(),
    env: process.env,
    isTTY: !!process.stdout.isTTY,
    columns: process.stdout.columns,
  };
}

export interface Ctx {
  io: Io;
  out: Out;
  server: string;
  token?: string;
  /** Deadline of each unary call, ms. */
  timeoutMs: number;
  client<S extends DescService>(service: S): Client<S>;
  /** A message as JSON with proto field names and every field present (what scripts read). */
  json<D extends DescMessage>(schema: D, message: MessageShape<D>): Json;
}

export function makeCtx(flags: GlobalFlags, io: Io): Ctx {
  const format = flags.output as Format;
  if (!["table", "json", "yaml"].includes(format)) throw new CliError(`--output must be table, json or yaml (got ${flags.output})`, EXIT.usage);
  if (!["grpc", "connect"].includes(flags.protocol)) throw new CliError(`--protocol must be grpc or connect (got ${flags.protocol})`, EXIT.usage);
  const timeoutMs = Number(flags.deadline) * 1000;
  if (!Number.isFinite(timeoutMs) || timeoutMs <= 0) throw new CliError(`--deadline must be a positive number of seconds`, EXIT.usage);
  const columns = io.isTTY && (io.columns ?? 0) >= 20 ? io.columns : undefined;
  const width = flags.width !== undefined ? Number(flags.width) : columns;
  if (width !== undefined && (!Number.isInteger(width) || width < 20)) throw new CliError(`--width must be an integer ≥ 20`, EXIT.usage);
  const color = flags.color && io.isTTY && !io.env.NO_COLOR && io.env.TERM !== "dumb";
  const { server, token } = resolveTarget({ server: flags.server, token: flags.token === "-" ? undefined : flags.token }, io.env);
  let transport: Transport | undefined;
  const clients = new Map<DescService, unknown>();
  const auth: Interceptor[] = token
    ? [
        (next) => (req) => {
          req.header.set("authorization", `Bearer ${token}`);
          return next(req);
        },
      ]
    : [];
  return {
    io,
    out: { format, color, width, write: io.stdout },
    server,
    token,
    timeoutMs,
    client<S extends DescService>(service: S): Client<S> {
      transport ??=
        flags.protocol === "connect"
          ? createConnectTransport({ baseUrl: server, httpVersion: "1.1", interceptors: auth })
          : createH2GrpcTransport({ baseUrl: server, interceptors: auth });
      if (!clients.has(service)) clients.set(service, createClient(service, transport));
      return clients.get(service) as Client<S>;
    },
    json: (schema, message) => toJson(schema, message, { useProtoFieldName: true, alwaysEmitImplicit: true }),
  };
}

/** Reads a JSON argument: inline JSON, `@file`, or `-` for stdin; plain text that is not JSON stays a string. */
export async function jsonArg(io: Io, text: string | undefined, what: string, plainOk = false): Promise<unknown> {
  if (text === undefined) return undefined;
  let raw = text;
  if (text === "-") raw = await io.stdin();
  else if (text.startsWith("@")) raw = await Bun.file(text.slice(1)).text();
  try {
    return JSON.parse(raw);
  } catch {
    if (plainOk) return raw;
    throw new CliError(`${what} is not valid JSON`, EXIT.usage);
  }
}

/** Parses a duration flag in seconds (`1.5`) or with a unit (`500ms`, `2s`, `5m`, `1h`); answers ms. */
export function durationArg(text: string | undefined, what: string): number | undefined {
  if (text === undefined) return undefined;
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(text.trim());
  if (!m) throw new CliError(`${what} must be a duration like 30s, 500ms, 5m (got ${text})`, EXIT.usage);
  const n = Number(m[1]);
  return Math.round(n * { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[(m[2] ?? "s") as "ms"]);
}

export function intArg(text: string | undefined, what: string, min = 0, max = Number.MAX_SAFE_INTEGER): number | undefined {
  if (text === undefined) return undefined;
  const n = Number(text);
  if (!Number.isInteger(n) || n < min || n > max) throw new CliError(`${what} must be an integer from ${min} to ${max} (got ${text})`, EXIT.usage);
  return n;
}

/** Runs a server stream until it ends, `count` items arrived, or `timeoutMs` passed (a timeout is not an error). */
export async function follow<T>(open: (signal: AbortSignal) => AsyncIterable<T>, each: (item: T) => void, opts: { timeoutMs?: number; count?: number }): Promise<number> {
  const ctl = new AbortController();
  const timer = opts.timeoutMs ? setTimeout(() => ctl.abort(), opts.timeoutMs) : undefined;
  const stop = () => ctl.abort();
  process.once("SIGINT", stop);
  let n = 0;
  try {
    for await (const item of open(ctl.signal)) {
      each(item);
      if (opts.count !== undefined && ++n >= opts.count) break;
    }
  } catch (e) {
    if (!ctl.signal.aborted) throw e;
  } finally {
    clearTimeout(timer);
    process.off("SIGINT", stop);
    ctl.abort();
  }
  return n;
}
