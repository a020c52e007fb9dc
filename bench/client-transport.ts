// What a TypeScript caller pays per gRPC call, by client transport: @connectrpc/connect-node's
// gRPC transport against the SDK's own (sdk/typescript/src/h2-transport.ts, what
// `grpcTransport()` gives), and a hand-framed node:http2 request with no Connect at all as the
// floor. One server process (`src/main.ts`); the clients in this process. Per row: the client's
// CPU per call (process.cpuUsage over the calls) and its calls/s or latency, for GetTask (a
// read) and CreateTask (a durable write), one call at a time and 16 in flight; rounds
// interleaved, the order flipping every round. `bun run bench client-transport`. Asserts nothing.
import { create, fromBinary, fromJson, toBinary } from "@bufbuild/protobuf";
import { ValueSchema } from "@bufbuild/protobuf/wkt";
import http2 from "node:http2";
import { loadavg } from "node:os";
import { GetTaskRequestSchema, GetTaskResponseSchema } from "../gen/switchyard/tasks/v1/tasks_service_pb.js";
import { payloadOf, taskClient, withServer, type ClientKind } from "./tasks.ts";

const CALLS = Number(process.env.BENCH_CALLS ?? 5_000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const IN_FLIGHT = 16;

export interface ClientRow {
  client: ClientKind | "node:http2 floor";
  call: "GetTask" | "CreateTask";
  inFlight: number;
  clientCpuUsPerCall: number;
  callsPerSecond: number;
  p50Us: number;
  round: number;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0;

async function measure(call: () => Promise<unknown>, inFlight: number): Promise<{ cpu: number; rps: number; p50: number }> {
  for (let i = 0; i < 300; i++) await call();
  const lat: number[] = [];
  let left = CALLS;
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: inFlight }, async () => {
      while (left-- > 0) {
        const s = performance.now();
        await call();
        lat.push(performance.now() - s);
      }
    }),
  );
  const ms = performance.now() - t0;
  const c = process.cpuUsage(c0);
  return { cpu: Math.round((c.user + c.system) / CALLS), rps: Math.round(CALLS / (ms / 1000)), p50: Math.round(median(lat) * 1000) };
}

/** GetTask as bytes on one node:http2 session: the least a Bun caller can do for a gRPC call. */
function floorGet(url: string, id: string): { call: () => Promise<unknown>; close(): void } {
  const session = http2.connect(url);
  const msg = toBinary(GetTaskRequestSchema, create(GetTaskRequestSchema, { id }));
  const frame = new Uint8Array(5 + msg.byteLength);
  new DataView(frame.buffer).setUint32(1, msg.byteLength);
  frame.set(msg, 5);
  const call = () =>
    new Promise((resolve, reject) => {
      const st = session.request({ ":method": "POST", ":path": "/switchyard.tasks.v1.TaskService/GetTask", "content-type": "application/grpc+proto", te: "trailers" });
      const chunks: Buffer[] = [];
      let status: unknown;
      st.on("data", (c: Buffer) => chunks.push(c));
      st.on("trailers", (t) => (status = t["grpc-status"]));
      st.on("error", reject);
      st.on("close", () => (status === "0" ? resolve(fromBinary(GetTaskResponseSchema, Buffer.concat(chunks).subarray(5))) : reject(new Error(`grpc-status ${String(status)}`))));
      st.end(frame);
    });
  return { call, close: () => session.close() };
}

export async function clientTransportBench(): Promise<ClientRow[]> {
  return withServer(async (url) => {
    const rows: ClientRow[] = [];
    const seed = await taskClient(url, "sdk").createTask({ task: { queue: "client-bench", payload: fromJson(ValueSchema, payloadOf(0)) } });
    const id = seed.task!.id;
    const floor = floorGet(url, id);
    try {
      for (let round = 1; round <= ROUNDS; round++) {
        const kinds: ClientKind[] = round % 2 ? ["connect-node", "sdk"] : ["sdk", "connect-node"];
        for (const inFlight of [1, IN_FLIGHT]) {
          for (const kind of kinds) {
            const c = taskClient(url, kind);
            const get = await measure(() => c.getTask({ id }), inFlight);
            rows.push({ client: kind, call: "GetTask", inFlight, clientCpuUsPerCall: get.cpu, callsPerSecond: get.rps, p50Us: get.p50, round });
            let i = 0;
            const put = await measure(() => c.createTask({ task: { queue: "client-bench", payload: fromJson(ValueSchema, payloadOf(i++)) } }), inFlight);
            rows.push({ client: kind, call: "CreateTask", inFlight, clientCpuUsPerCall: put.cpu, callsPerSecond: put.rps, p50Us: put.p50, round });
          }
          const f = await measure(floor.call, inFlight);
          rows.push({ client: "node:http2 floor", call: "GetTask", inFlight, clientCpuUsPerCall: f.cpu, callsPerSecond: f.rps, p50Us: f.p50, round });
        }
      }
    } finally {
      floor.close();
    }
    return rows;
  });
}

export function clientTransportReport(rows: ClientRow[]): string {
  const keys = [...new Set(rows.map((r) => `${r.call}|${r.inFlight}|${r.client}`))];
  const med = (call: string, inFlight: number, client: string, f: (r: ClientRow) => number) =>
    median(rows.filter((r) => r.call === call && r.inFlight === inFlight && r.client === client).map(f));
  const table = [
    "| call | in flight | client | client CPU µs per call | calls/s | p50 µs | CPU ÷ connect-node |",
    "|---|---:|---|---:|---:|---:|---:|",
    ...keys.map((k) => {
      const [call, n, client] = k.split("|") as [string, string, string];
      const inFlight = Number(n);
      const cpu = med(call, inFlight, client, (r) => r.clientCpuUsPerCall);
      const base = med(call, inFlight, "connect-node", (r) => r.clientCpuUsPerCall);
      return `| ${call} | ${inFlight} | ${client} | ${cpu} | ${med(call, inFlight, client, (r) => r.callsPerSecond)} | ${med(call, inFlight, client, (r) => r.p50Us)} | ${client === "connect-node" ? "" : (cpu / base).toFixed(2)} |`;
    }),
  ].join("\n");
  const perRound = ["| round | call | in flight | client | client CPU µs | calls/s | p50 µs |", "|---:|---|---:|---|---:|---:|---:|", ...rows.map((r) => `| ${r.round} | ${r.call} | ${r.inFlight} | ${r.client} | ${r.clientCpuUsPerCall} | ${r.callsPerSecond} | ${r.p50Us} |`)].join("\n");
  return `${CALLS} calls per row, ${ROUNDS} interleaved rounds (medians below), one server process (\`src/main.ts\`, SQLite WAL synced before each write's answer), gRPC over h2c on loopback; client and server share the machine. Load average when done (1/5/15 min): ${loadavg().map((x) => x.toFixed(1)).join(" / ")}.\n\n${table}\n\n## Every round\n\n${perRound}`;
}

if (import.meta.main) console.log(clientTransportReport(await clientTransportBench()));
