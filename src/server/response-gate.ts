import { AppError } from "../core/errors.ts";
import type { NodeResponse } from "./http-io.ts";

/**
 * Bounds the memory REST and legacy answers take. Building a JSON answer holds several copies
 * of the message (binary, decoded, JSON text, bytes), so at most `maxConcurrent` answers are
 * built at once, and none starts while `maxBytes` of answers already built are still being
 * written to slow clients. A request that waits longer than `maxWaitMs` for its turn is refused
 * with `resource_exhausted` RESPONSES_IN_FLIGHT (HTTP 429 with Retry-After): back-pressure
 * first, then load shedding, never unbounded memory.
 */
export interface ResponseGate {
  /** Waits for a turn to build an answer; throws RESPONSES_IN_FLIGHT after `maxWaitMs`. */
  enter(signal: AbortSignal): Promise<ResponseTurn>;
  /** Bytes of answers written but not yet flushed to their clients. */
  readonly bytesInFlight: number;
}

/** One answer being built: send its bytes (counted until flushed), or leave. */
export interface ResponseTurn {
  /** Counts `size` bytes as in flight until `res` finishes or closes, and ends the turn. */
  sending(res: NodeResponse, size: number): void;
  /** Ends the turn without sending (errors, streams). Idempotent. */
  leave(): void;
}

export interface ResponseGateOptions {
  maxBytes: number;
  maxConcurrent: number;
  maxWaitMs: number;
}

export function createResponseGate(options: ResponseGateOptions): ResponseGate {
  let active = 0;
  let bytes = 0;
  const waiting: { admit: () => void }[] = [];

  const open = () => active < options.maxConcurrent && bytes < options.maxBytes;
  const pump = () => {
    while (waiting.length > 0 && open()) {
      active++;
      waiting.shift()!.admit();
    }
  };

  function turn(): ResponseTurn {
    let left = false;
    const leave = () => {
      if (left) return;
      left = true;
      active--;
      pump();
    };
    return {
      sending(res, size) {
        bytes += size;
        let released = false;
        const release = () => {
          if (released) return;
          released = true;
          bytes -= size;
          pump();
        };
        res.once("finish", release);
        res.once("close", release);
        leave();
      },
      leave,
    };
  }

  return {
    get bytesInFlight() {
      return bytes;
    },
    enter(signal) {
      if (waiting.length === 0 && open()) {
        active++;
        return Promise.resolve(turn());
      }
      return new Promise<ResponseTurn>((resolve, reject) => {
        const entry = {
          admit: () => {
            clearTimeout(timer);
            signal.removeEventListener("abort", onAbort);
            resolve(turn());
          },
        };
        const drop = () => {
          const i = waiting.indexOf(entry);
          if (i >= 0) waiting.splice(i, 1);
        };
        const timer = setTimeout(() => {
          drop();
          signal.removeEventListener("abort", onAbort);
          reject(
            new AppError("resource_exhausted", "RESPONSES_IN_FLIGHT", "the server is busy sending other answers; retry shortly", {
              retry_after_seconds: "1",
            }),
          );
        }, options.maxWaitMs);
        const onAbort = () => {
          clearTimeout(timer);
          drop();
          reject(signal.reason);
        };
        signal.addEventListener("abort", onAbort, { once: true });
        waiting.push(entry);
      });
    },
  };
}

/** The refusal of an answer larger than the write limit (REST and legacy, as gRPC and Connect). */
export function responseTooLarge(size: number, maxBytes: number): AppError {
  return new AppError("resource_exhausted", "RESPONSE_TOO_LARGE", `the answer of ${size} bytes is larger than ${maxBytes} bytes (SWITCHYARD_MAX_MESSAGE_BYTES)`, {
    limit: String(maxBytes),
  });
}
