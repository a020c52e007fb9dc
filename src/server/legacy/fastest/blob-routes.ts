import { create, toJson, type DescMethodUnary, type DescMessage } from "@bufbuild/protobuf";
import { pipeline } from "node:stream/promises";
import { BlobService } from "../../../../gen/switchyard/workspaces/v1/blob_service_pb.js";
import type { ObjectHandle } from "../../../workspaces/blobs.ts";
import { downloadSinkKey, uploadLengthKey, uploadSourceKey, type DownloadSink } from "../../../workspaces/transfer.ts";
import { toConnectError } from "../../errors.ts";
import { send, sendJson, type Exchange } from "../../http-io.ts";
import { invokeUnary } from "../../invoke.ts";
import type { RawDeps, RawRoute } from "../../raw-route.ts";
import { restStatus } from "../../rest/rest-errors.ts";
import { callRecordKey } from "../../call-record.ts";
import { codeName, errorInfo } from "../../errors.ts";
import { seed002Error, seed002Shape } from "./wire.ts";

/** Blobs and manifests are immutable: cacheable for a year by anyone (seed 002). */
const IMMUTABLE = "public, max-age=31536000, immutable";

async function call<I extends DescMessage, O extends DescMessage>(ex: Exchange, deps: RawDeps, method: DescMethodUnary<I, O>, hash: string, upload = false) {
  // An upload's bytes travel as a stream beside the message; its (required) body is present but empty.
  const input = upload ? { hash, body: { contentType: ex.header.get("content-type") ?? "" } } : { hash };
  return invokeUnary(deps.handlers, method, create(method.input, input as never), {
    header: ex.header,
    contextValues: ex.contextValues,
    signal: ex.signal,
    maxMessageBytes: deps.maxMessageBytes,
  });
}

/** Most of a refused upload's body read and dropped so that its client can read the answer. */
const DRAIN_LIMIT = 64 * 1024 * 1024;

async function fail(ex: Exchange, deps: RawDeps, error: unknown): Promise<void> {
  // Refused before its body was read (or part of it): an HTTP/1.1 client still sending cannot
  // read the answer, its connection is reset instead. A body of a bounded declared length is
  // read and dropped first; anything larger is answered at once and the connection closed.
  const declared = Number(ex.header.get("content-length") ?? Number.NaN);
  const connectError = toConnectError(error, deps.log);
  const reason = errorInfo(connectError)?.reason ?? "";
  const sizeRefusal = reason.endsWith("_TOO_LARGE");
  if (!sizeRefusal && !ex.req.complete && !ex.req.destroyed && Number.isSafeInteger(declared) && declared <= DRAIN_LIMIT) {
    const stalled = setTimeout(() => ex.req.destroy(), 10_000);
    try {
      for await (const _ of ex.req as AsyncIterable<Uint8Array>) {
        // dropped
      }
    } catch {
      // the client went away (or stalled)
    } finally {
      clearTimeout(stalled);
    }
  }
  const record = ex.contextValues.get(callRecordKey);
  if (record && record.code === "ok") {
    record.code = codeName(connectError.code);
    record.reason = errorInfo(connectError)?.reason;
  }
  const shaped = seed002Error(connectError, restStatus(connectError));
  if (!ex.res.headersSent) sendJson(ex.res, shaped.status, shaped.body);
  else ex.res.destroy();
  // Do not wait for a body nobody will read (a refused upload): close after answering.
  if (!ex.req.complete) ex.res.once("finish", () => ex.req.destroy());
}

/**
 * The request body as the blob store reads it. When the store stops early (a full disk, a hash
 * already refused), the rest of what the client still sends is read and dropped before the
 * answer, up to the declared length: an HTTP/1.1 client that is still uploading cannot read an
 * answer sent over an unread body (its connection is reset instead).
 */
function drainingSource(req: AsyncIterable<Uint8Array>, declared: number | undefined): AsyncIterable<Uint8Array> {
  const limit = declared ?? 64 * 1024 * 1024;
  return {
    [Symbol.asyncIterator]() {
      const it = req[Symbol.asyncIterator]();
      let read = 0;
      return {
        async next() {
          const r = await it.next();
          if (!r.done) read += r.value.byteLength;
          return r;
        },
        async return() {
          try {
            while (read <= limit) {
              const r = await it.next();
              if (r.done) break;
              read += r.value.byteLength;
            }
          } catch {
            // the client went away: nothing left to drain
          }
          return { done: true as const, value: undefined };
        },
      };
    },
  };
}

/** PUT of raw bytes, streamed into the blob store through the RPC (auth and checks shared). */
function uploadRoute(path: string, method: typeof BlobService.method.uploadBlob | typeof BlobService.method.putManifest): RawRoute {
  return {
    method: "PUT",
    path,
    async handle(ex, params, deps) {
      const declared = Number(ex.header.get("content-length") ?? Number.NaN);
      const known = Number.isSafeInteger(declared) && declared >= 0;
      ex.contextValues.set(uploadSourceKey, drainingSource(ex.req as AsyncIterable<Uint8Array>, known ? declared : undefined));
      if (known) ex.contextValues.set(uploadLengthKey, declared);
      try {
        const out = await call(ex, deps, method as DescMethodUnary<DescMessage, DescMessage>, params.hash!, true);
        const shape = seed002Shape(method);
        sendJson(ex.res, shape.status!(out), shape.json!(toJson(method.output as DescMessage, out, { useProtoFieldName: true, alwaysEmitImplicit: true }), method.output, out));
      } catch (error) {
        await fail(ex, deps, error);
      }
    },
  };
}

type Range = { start: number; end: number } | "unsatisfiable" | undefined;

/** One `bytes=` range (the only form clients send for resumable downloads); multi-ranges are ignored. */
export function parseRange(header: string | null, size: number): Range {
  const m = header ? /^bytes=(\d*)-(\d*)$/.exec(header.trim()) : null;
  if (!m || (m[1] === "" && m[2] === "")) return undefined;
  if (m[1] === "") {
    const n = Number(m[2]);
    if (n === 0) return "unsatisfiable";
    return { start: Math.max(0, size - n), end: size - 1 };
  }
  const start = Number(m[1]);
  const end = m[2] === "" ? size - 1 : Math.min(Number(m[2]), size - 1);
  if (start >= size || end < start) return "unsatisfiable";
  return { start, end };
}

/** GET of a stored object: streamed, with ETag (the hash), Range and immutable caching. */
function downloadRoute(path: string, method: typeof BlobService.method.downloadBlob | typeof BlobService.method.getManifest, contentType: string): RawRoute {
  return {
    method: "GET",
    path,
    async handle(ex, params, deps) {
      const sink: DownloadSink = {};
      ex.contextValues.set(downloadSinkKey, sink);
      let handle: ObjectHandle;
      try {
        await call(ex, deps, method as DescMethodUnary<DescMessage, DescMessage>, params.hash!);
        handle = sink.handle!;
      } catch (error) {
        return fail(ex, deps, error);
      }
      const etag = `"${handle.hash}"`;
      const common = { etag, "cache-control": IMMUTABLE, "accept-ranges": "bytes" };
      const inm = ex.header.get("if-none-match");
      if (inm && (inm === "*" || inm.split(",").some((t) => t.trim().replace(/^W\//, "") === etag))) return send(ex.res, 304, "", common);
      const ifRange = ex.header.get("if-range");
      const range = ifRange && ifRange !== etag ? undefined : parseRange(ex.header.get("range"), handle.size);
      if (range === "unsatisfiable") return send(ex.res, 416, "", { ...common, "content-range": `bytes */${handle.size}` });
      const headers: Record<string, string> = { ...common, "content-type": contentType };
      const length = range ? range.end - range.start + 1 : handle.size;
      headers["content-length"] = String(length);
      if (range) headers["content-range"] = `bytes ${range.start}-${range.end}/${handle.size}`;
      ex.res.writeHead(range ? 206 : 200, headers);
      if (ex.req.method === "HEAD" || length === 0) return void ex.res.end();
      try {
        await pipeline(handle.open(range), ex.res);
      } catch {
        ex.res.destroy();
      }
    },
  };
}

/** Seed 002's blob and manifest byte routes (the JSON ones go through the REST transcoder). */
export function fastestBlobRoutes(): RawRoute[] {
  return [
    uploadRoute("/v1/blobs/upload/:hash", BlobService.method.uploadBlob),
    uploadRoute("/v1/blobs/manifests/:hash", BlobService.method.putManifest),
    downloadRoute("/v1/blobs/download/:hash", BlobService.method.downloadBlob, "application/octet-stream"),
    downloadRoute("/v1/blobs/manifests/:hash", BlobService.method.getManifest, "application/json"),
  ];
}
