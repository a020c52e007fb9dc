import { createContextKey } from "@connectrpc/connect";
import type { ObjectHandle } from "./blobs.ts";

/**
 * Streaming hand-off between the raw HTTP blob routes and the BlobService handlers. A REST
 * upload calls UploadBlob / PutManifest in-process (so auth and errors are those of the RPC)
 * with the request's body stream here instead of bytes in the message; a REST download calls
 * DownloadBlob / GetManifest with a sink here, and the handler leaves the stored object's
 * handle in it instead of reading the bytes into the answer.
 */
export const uploadSourceKey = createContextKey<AsyncIterable<Uint8Array> | undefined>(undefined, { description: "blob upload stream" });
/** The upload's declared length (`Content-Length`), when the client sent one. */
export const uploadLengthKey = createContextKey<number | undefined>(undefined, { description: "blob upload declared length" });

export interface DownloadSink {
  handle?: ObjectHandle;
}
export const downloadSinkKey = createContextKey<DownloadSink | undefined>(undefined, { description: "blob download sink" });
