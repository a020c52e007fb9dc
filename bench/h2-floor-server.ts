// A lean h2c gRPC server for bench/h2-floor.ts: node:http2 under Bun, no Connect, answering
// GetTask. Modes: "canned" writes fixed response bytes (the HTTP/2 layer alone); "work" also
// decodes the request with protobuf-es, reads the row with a prepared bun:sqlite statement and
// encodes the response message (what a lean path would really do per call).
import { fromBinary, toBinary, fromJson } from "@bufbuild/protobuf";
import { Database } from "bun:sqlite";
import { createServer, type ServerHttp2Stream } from "node:http2";
import { GetTaskRequestSchema, GetTaskResponseSchema } from "../gen/switchyard/tasks/v1/tasks_service_pb.js";

const [mode, portArg, responseJson] = [process.argv[2]!, Number(process.argv[3]), process.argv[4]!];
const response = fromJson(GetTaskResponseSchema, JSON.parse(responseJson));
const canned = toBinary(GetTaskResponseSchema, response);
const db = new Database(":memory:");
db.exec("CREATE TABLE tasks (id TEXT PRIMARY KEY, body TEXT)");
db.prepare("INSERT INTO tasks VALUES (?, ?)").run(response.task!.id, responseJson);
const byId = db.prepare("SELECT body FROM tasks WHERE id = ?");
const frame = (bytes: Uint8Array) => {
  const out = new Uint8Array(5 + bytes.byteLength);
  new DataView(out.buffer).setUint32(1, bytes.byteLength);
  out.set(bytes, 5);
  return out;
};
const cannedFrame = frame(canned);

const server = createServer();
server.on("stream", (stream: ServerHttp2Stream) => {
  const chunks: Buffer[] = [];
  stream.on("data", (c: Buffer) => chunks.push(c));
  stream.on("end", () => {
    let out = cannedFrame;
    if (mode === "work") {
      const body = Buffer.concat(chunks);
      const req = fromBinary(GetTaskRequestSchema, body.subarray(5));
      const row = byId.get(req.id) as { body: string } | null;
      if (row) response.task!.id = req.id;
      out = frame(toBinary(GetTaskResponseSchema, response));
    }
    stream.respond({ ":status": 200, "content-type": "application/grpc" }, { waitForTrailers: true });
    stream.on("wantTrailers", () => stream.sendTrailers({ "grpc-status": "0" }));
    stream.end(out);
  });
});
server.listen(portArg, "127.0.0.1", () => process.stdout.write("ready\n"));
