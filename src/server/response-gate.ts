import { AppError } from "../core/errors.ts";
import type { NodeResponse } from "./http-io.ts";

/**
 * Bounds the memory REST and legacy answers take. Building a JSON answer holds several copies
 * of the message (binary, decoded, JSON text, bytes) until it is flushed to the client, so each
 * request reserves, before its RPC runs, what its route's answers have lately weighed (at least
 * 16 KiB): requests start while the reservations and the answers still being written stay
 * within `maxBytes`. Small answers (most routes) run side by side by the thousand — writes keep
 * sharing group commits — while a route answering 4 MB pages runs a few at a time. A request
 * that waits longer than `maxWaitMs` for room is refused with `resource_exhausted`
 * RESPONSES_IN_FLIGHT (HTTP 429 with Retry-After): back-pressure first, then load shedding,
 * never unbounded memory.
 */
export interface ResponseGate {
  /** Waits for room to build an answer of route `key`; throws RESPONSES_IN_FLIGHT after `maxWaitMs`. */
  enter(signal: AbortSignal, key: string): Promise<ResponseTurn>;
  /** Bytes reserved or written but not yet flushed to their clients. */
  readonly bytesInFlight: number;
}

/** One answer being built: send its bytes (counted until flushed), or leave. */
export interface ResponseTurn {
  /** Counts `size` bytes (instead of the reservation) until `res` finishes or closes. */
  sending(res: NodeResponse, size: number): void;
  /** Gives the reservation back without sending (errors). Idempotent. */
  leave(): void;
}

export interface ResponseGateOptions {
  maxBytes: number;
  maxConcurrent: number;
  maxWaitMs: number;
  /**
   * Runs a garbage collection each time large answers (each at least `LARGE_ANSWER` bytes)
   * weighing this many bytes (default four times `maxBytes`) have been flushed since the last
   * one. The gate bounds what is being built and sent; what was built and sent stays in the heap
   * until a collection, and JavaScriptCore collects large allocations lazily. 2,000 reads of a
   * 4 MB page with a 32 MB budget (test/e2e/memory-load.test.ts) peaked at 1.2–1.5 GB of RSS
   * with no collection, the same with an asynchronous one (`Bun.gc(false)`) every 64 MB, and at
   * 0.43–0.49 GB with this default (0.32–0.36 GB every 64 MB); it costs that run ~25 % more time
   * (a full collection every 32 answers of 4 MB). Small answers never count: the young generation
   * reclaims them, and full collections would only add pauses.
   */
  collectEveryBytes?: number;
  /** The collection (default `Bun.gc(true)`: synchronous, and mimalloc returns freed pages). */
  collect?: () => void;
}

/** Smallest reservation: a route never seen, or answering a few bytes. */
const MIN_COST = 16 * 1024;
/** Answers from this size up count toward the collection after large answers. */
export const LARGE_ANSWER = 256 * 1024;
/** Routes whose answer sizes are remembered (least recently used forgotten first). */
const MAX_ROUTES = 10_000;

export function createResponseGate(options: ResponseGateOptions): ResponseGate {
  let active = 0;
  let bytes = 0;
  const waiting: { cost: number; admit: () => void }[] = [];
  // Per route, the size its answers lately reached: the largest recent one, decaying slowly.
  const weight = new Map<string, number>();
  const collectEvery = options.collectEveryBytes ?? 4 * options.maxBytes;
  const collect = options.collect ?? (() => Bun.gc(true));
  let flushedSinceCollect = 0;

  const costOf = (key: string) => Math.max(MIN_COST, Math.min(weight.get(key) ?? 0, options.maxBytes));
  const learn = (key: string, size: number) => {
    const before = weight.get(key) ?? 0;
    weight.delete(key);
    weight.set(key, Math.max(size, Math.floor(before * 0.9)));
    if (weight.size > MAX_ROUTES) weight.delete(weight.keys().next().value!);
  };
  // The first request always fits: an answer larger than the budget still gets served alone.
  const fits = (cost: number) => active < options.maxConcurrent && (bytes === 0 || bytes + cost <= options.maxBytes);
  const pump = () => {
    while (waiting.length > 0 && fits(waiting[0]!.cost)) {
      const next = waiting.shift()!;
      active++;
      bytes += next.cost;
      next.admit();
    }
  };

  function turn(key: string, cost: number): ResponseTurn {
    let done = false;
    const end = () => {
      done = true;
      active--;
    };
    return {
      sending(res, size) {
        if (done) return;
        end();
        learn(key, size);
        bytes += size - cost;
        let released = false;
        const release = () => {
          if (released) return;
          released = true;
          bytes -= size;
          if (size >= LARGE_ANSWER) flushedSinceCollect += size;
          if (flushedSinceCollect >= collectEvery) {
            flushedSinceCollect = 0;
            collect();
          }
          pump();
        };
        res.once("finish", release);
        res.once("close", release);
        pump();
      },
      leave() {
        if (done) return;
        end();
        bytes -= cost;
        pump();
      },
    };
  }

  return {
    get bytesInFlight() {
      return bytes;
    },
    enter(signal, key) {
      const cost = costOf(key);
      if (waiting.length === 0 && fits(cost)) {
        active++;
        bytes += cost;
        return Promise.resolve(turn(key, cost));
      }
      return new Promise<ResponseTurn>((resolve, reject) => {
        const entry = {
          cost,
          admit: () => {
            clearTimeout(timer);
            signal.removeEventListener("abort", onAbort);
            resolve(turn(key, cost));
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
