import type { DescMessage, DescMethod, JsonValue, Message } from "@bufbuild/protobuf";
import type { ConnectError } from "@connectrpc/connect";

/**
 * How a family of REST routes departs from the canonical transcoding, declared once per family
 * (e.g. seed 002's wire rules in `legacy/fastest/wire.ts`) and read by the transcoder: the
 * success status, the JSON (numbers, extra keys), headers and the error body.
 */
export interface RestShape {
  /** HTTP status of a successful answer (default 200). */
  status?(output: Message): number;
  /** Rewrites the canonical output JSON (proto field names, defaults included). */
  json?(json: JsonValue, desc: DescMessage, output: Message): JsonValue;
  /** The error status and body (default: the canonical error body). */
  error?(error: ConnectError, status: number): { status: number; body: unknown };
  /** Extra headers on a successful answer. */
  headers?: Record<string, string>;
}

/** The shape of an RPC's REST routes, if its family declares one. */
export type RestShapes = (method: DescMethod) => RestShape | undefined;

/** Combines several families' shape lookups: the first that knows the method wins. */
export function combineShapes(all: (RestShapes | undefined)[]): RestShapes {
  const list = all.filter((s): s is RestShapes => s !== undefined);
  return (method) => {
    for (const s of list) {
      const shape = s(method);
      if (shape) return shape;
    }
    return undefined;
  };
}
