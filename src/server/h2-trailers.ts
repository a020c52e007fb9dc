import type { OutgoingHttpHeaders, ServerHttp2Stream } from "node:http2";

/**
 * A unary gRPC answer's trailers in the same write as its HEADERS and DATA frames.
 *
 * Bun's node:http2 (1.4.5) sends a stream's trailers when the stream asks for them
 * ("wantTrailers"), which it does only once the write of its last DATA frame has been flushed:
 * when one turn of the loop answers several calls (a group commit acknowledging the creates of
 * 16 connections), their HEADERS and DATA go out together and every call's trailers then take
 * a `sendto` of their own, 2 per call where one would do. Sending the trailers right after the
 * data, while the DATA frame is still in the session's write buffer, halves the sends:
 * 1.10× durable CreateTask calls/s at 0.90× server CPU per call (`bun run bench h2-trailers`:
 * h2load, 16 connections, 6 interleaved rounds; GetTask, whose answers already went out one per
 * turn, unchanged; bench/results/2026-12-05-h2-trailers.md).
 *
 * This reaches into Bun's stream state (the well-known symbols below), so it does so only when
 * it can tell the order on the wire stays right, and otherwise leaves the trailers to the
 * standard path (the caller has given them to the response as usual):
 * - the stream has not asked for its trailers yet, its headers are sent, it is open;
 * - nothing of it waits in its own JavaScript buffer beyond the one chunk being written;
 * - no DATA of the session waits for the peer's flow-control window (`bufferSize()` 0): a DATA
 *   frame held back by the window would otherwise be overtaken by trailers that end the stream
 *   (measured: a client with a 100-byte window got 100 of 3,114 bytes).
 * test/e2e/lean-grpc.test.ts checks both ways (a normal call takes this path, a call held back
 * by a small window falls back and arrives whole): a Bun that changes these internals fails it.
 */
const STATUS = Symbol.for("::bunhttp2StreamStatus::");
const SESSION = Symbol.for("::bunhttp2session::");
const NATIVE = Symbol.for("::bunhttp2native::");
/** The stream status bit Bun sets once it has asked for (or been given) trailers. */
const WANT_TRAILERS = 2;

interface BunStream {
  [STATUS]?: unknown;
  [SESSION]?: { [NATIVE]?: { bufferSize?: () => number } };
  _writableState?: { writing?: boolean; writelen?: number; length?: number };
}

/** True when the trailers were sent now; false leaves them to the stream's "wantTrailers". */
export function sendTrailersWithData(stream: ServerHttp2Stream, trailers: OutgoingHttpHeaders): boolean {
  const s = stream as unknown as BunStream;
  const status = s[STATUS];
  if (typeof status !== "number" || (status & WANT_TRAILERS) !== 0) return false;
  if (stream.destroyed || stream.closed || !stream.headersSent) return false;
  const w = s._writableState;
  if (!w || typeof w.length !== "number" || w.length !== (w.writing ? w.writelen : 0)) return false;
  const native = s[SESSION]?.[NATIVE];
  if (typeof native?.bufferSize !== "function" || native.bufferSize() !== 0) return false;
  s[STATUS] = status | WANT_TRAILERS;
  try {
    stream.sendTrailers(trailers);
    return true;
  } catch {
    s[STATUS] = status;
    return false;
  }
}
