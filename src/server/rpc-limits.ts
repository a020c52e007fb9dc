import { AppError } from "../core/errors.ts";

/**
 * Limits of an RPC request checked at the HTTP boundary, before Connect's own checks: the
 * framework refuses a long deadline or a large message with a bare ConnectError (no ErrorInfo)
 * before any interceptor runs, so Switchyard refuses them first, with its reasons, the same way
 * on gRPC, gRPC-Web and Connect: `invalid_argument` DEADLINE_TOO_LONG and
 * `resource_exhausted` BODY_TOO_LARGE.
 */

const GRPC_UNITS: Record<string, number> = { H: 3_600_000, M: 60_000, S: 1000, m: 1, u: 0.001, n: 0.000001 };

/** The deadline a request asks for, in ms (`grpc-timeout` or `connect-timeout-ms`); undefined if none or malformed. */
export function requestedTimeoutMs(header: Headers): number | undefined {
  const grpc = header.get("grpc-timeout");
  if (grpc !== null) {
    const m = /^(\d{1,8})([HMSmun])$/.exec(grpc);
    return m ? Number(m[1]) * GRPC_UNITS[m[2]!]! : undefined;
  }
  const connect = header.get("connect-timeout-ms");
  if (connect !== null && /^\d{1,10}$/.test(connect)) return Number(connect);
  return undefined;
}

/** The refusal of a deadline longer than `maxMs`. */
export function deadlineTooLong(timeoutMs: number, maxMs: number): AppError {
  return new AppError("invalid_argument", "DEADLINE_TOO_LONG", `timeout ${timeoutMs}ms must be <= ${maxMs}ms (SWITCHYARD_MAX_DEADLINE_MS)`, {
    limit: String(maxMs),
    field: "timeout",
  });
}

/** The refusal of a message over the size limit (the same on every protocol). */
export function messageTooLarge(size: number, maxBytes: number): AppError {
  return new AppError("resource_exhausted", "BODY_TOO_LARGE", `message of ${size} bytes is larger than ${maxBytes} bytes`, { limit: String(maxBytes) });
}

/**
 * Passes a request body through, throwing `refuse(...)` as soon as a message is larger than
 * `maxBytes`: each envelope's declared length for enveloped protocols (gRPC, gRPC-Web, Connect
 * streaming), the whole body for Connect unary.
 */
export async function* limitBody(
  body: AsyncIterable<Uint8Array>,
  enveloped: boolean,
  maxBytes: number,
  refuse: (size: number) => Error,
): AsyncGenerator<Uint8Array> {
  if (!enveloped) {
    let size = 0;
    for await (const chunk of body) {
      size += chunk.byteLength;
      if (size > maxBytes) throw refuse(size);
      yield chunk;
    }
    return;
  }
  // Envelope: flags (1 byte), length (4 bytes, big endian), data. `need` counts the bytes left
  // of the current envelope's data; a header may be split across chunks.
  let header: number[] = [];
  let need = 0;
  for await (const chunk of body) {
    let i = 0;
    while (i < chunk.byteLength) {
      if (need > 0) {
        const take = Math.min(need, chunk.byteLength - i);
        need -= take;
        i += take;
        continue;
      }
      header.push(chunk[i++]!);
      if (header.length === 5) {
        const length = ((header[1]! << 24) >>> 0) + (header[2]! << 16) + (header[3]! << 8) + header[4]!;
        if (length > maxBytes) throw refuse(length);
        need = length;
        header = [];
      }
    }
    yield chunk;
  }
}
