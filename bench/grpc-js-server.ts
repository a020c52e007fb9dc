// The grpc-js comparison of issue 14 (bench/per-call.ts): a @grpc/grpc-js server on Node
// answering TaskService.GetTask from memory. Per call it decodes the request and encodes the
// answer with protobuf-es (the same codec Switchyard uses), from a response held in memory.
// Bundled for Node by per-call.ts (`bun build --target=node`, grpc-js left external), run with
// `node <bundle> <port> <response json>`; prints "ready" once bound.
import { fromBinary, fromJson, toBinary } from "@bufbuild/protobuf";
import * as grpc from "@grpc/grpc-js";
import { GetTaskRequestSchema, GetTaskResponseSchema } from "../gen/switchyard/tasks/v1/tasks_service_pb.js";

const [portArg, responseJson] = [process.argv[2]!, process.argv[3]!];
const response = fromJson(GetTaskResponseSchema, JSON.parse(responseJson));
const server = new grpc.Server();
server.addService(
  {
    GetTask: {
      path: "/switchyard.tasks.v1.TaskService/GetTask",
      requestStream: false,
      responseStream: false,
      requestDeserialize: (b: Buffer) => fromBinary(GetTaskRequestSchema, b),
      requestSerialize: (m: unknown) => Buffer.from(toBinary(GetTaskRequestSchema, m as never)),
      responseDeserialize: (b: Buffer) => fromBinary(GetTaskResponseSchema, b),
      responseSerialize: (m: unknown) => Buffer.from(toBinary(GetTaskResponseSchema, m as never)),
    },
  },
  {
    GetTask: (call: grpc.ServerUnaryCall<{ id: string }, unknown>, callback: grpc.sendUnaryData<unknown>) => {
      response.task!.id = call.request.id;
      callback(null, response);
    },
  },
);
server.bindAsync(`127.0.0.1:${portArg}`, grpc.ServerCredentials.createInsecure(), (error) => {
  if (error) throw error;
  process.stdout.write("ready\n");
});
