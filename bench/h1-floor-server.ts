// The HTTP/1.1 floor of Switchyard's one port, for bench/per-call.ts: the same listener
// (src/server/listener.ts: a net server that reads the first bytes and hands HTTP/1.1 sockets to
// node:http, h2c to node:http2) answering `GET /v1/tasks/{id}` with fixed JSON bytes of the
// REST answer's size, written as src/server/http-io.ts's `send` writes (corked head + body).
// Nothing else runs: what REST costs Switchyard before any of its own code.
// `bun bench/h1-floor-server.ts <port> <response json>`.
import type { IncomingMessage, ServerResponse } from "node:http";
import { listen } from "../src/server/listener.ts";
import type { RequestHandler } from "../src/server/http.ts";

const [port, json] = [Number(process.argv[2]), process.argv[3]!];
const body = Buffer.from(json);
const handler = ((req: IncomingMessage, res: ServerResponse) => {
  req.resume();
  res.cork();
  res.writeHead(200, { "content-length": String(body.byteLength), "content-type": "application/json; charset=utf-8" });
  res.end(body);
  res.uncork();
}) as unknown as RequestHandler;
(handler as unknown as { upgrade: () => void }).upgrade = () => {};
await listen(handler, { host: "127.0.0.1", port, maxConcurrentStreams: 100 });
process.stdout.write("ready\n");
