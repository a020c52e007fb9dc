// Transport benchmark: unary calls per second through each protocol of the one port, against
// a bare Bun.serve answering "ok" as the ceiling. The server runs as its own process; load
// comes from this one. Used by bench/run.ts.
import { join } from "node:path";
import { SystemService } from "../gen/switchyard/system/v1/system_service_pb.js";
import { clientFor, type Protocol } from "../src/testing/clients.ts";
import { freePort, repoRoot, waitForHttp } from "../src/testing/server.ts";

export interface Row {
  name: string;
  callsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
}

async function measure(name: string, concurrency: number, seconds: number, call: () => Promise<unknown>): Promise<Row> {
  for (let i = 0; i < 200; i++) await call(); // warm up
  const latencies: number[] = [];
  const deadline = performance.now() + seconds * 1000;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < deadline) {
        const t = performance.now();
        await call();
        latencies.push(performance.now() - t);
      }
    }),
  );
  latencies.sort((a, b) => a - b);
  return {
    name,
    callsPerSecond: Math.round(latencies.length / seconds),
    p50Ms: latencies[Math.floor(latencies.length * 0.5)]!,
    p99Ms: latencies[Math.floor(latencies.length * 0.99)]!,
  };
}

export async function transportBench(seconds = 4, concurrency = 32): Promise<Row[]> {
  const rows: Row[] = [];
  // The ceiling: a bare Bun.serve in its own process.
  const port0 = await freePort();
  const ceiling = Bun.spawn(["bun", "-e", `Bun.serve({ port: ${port0}, hostname: "127.0.0.1", fetch: () => new Response("ok") })`]);
  await waitForHttp(`http://127.0.0.1:${port0}/`);
  rows.push(await measure("bare Bun.serve (ceiling)", concurrency, seconds, () => fetch(`http://127.0.0.1:${port0}/`).then((r) => r.text())));
  ceiling.kill();

  const port = await freePort();
  const server = Bun.spawn(["bun", join(repoRoot, "src/main.ts")], {
    env: { ...process.env, SWITCHYARD_PORT: String(port), SWITCHYARD_HOST: "127.0.0.1", SWITCHYARD_DATA_DIR: `/tmp/switchyard-bench-${process.pid}`, SWITCHYARD_LOG_LEVEL: "warn" },
    stdout: "ignore",
    stderr: "ignore",
  });
  const url = `http://127.0.0.1:${port}`;
  await waitForHttp(`${url}/healthz`);
  try {
    for (const protocol of ["grpc", "grpc-web", "connect"] as Protocol[]) {
      const client = clientFor(SystemService, url, protocol);
      rows.push(await measure(`${protocol} GetInfo`, concurrency, seconds, () => client.getInfo({})));
    }
    rows.push(await measure("REST GET /v1/system/info", concurrency, seconds, () => fetch(`${url}/v1/system/info`).then((r) => r.json())));
    rows.push(await measure("legacy GET /health", concurrency, seconds, () => fetch(`${url}/health`).then((r) => r.json())));
    const grpc = clientFor(SystemService, url, "grpc");
    let n = 0;
    rows.push(await measure("grpc SetSetting (durable write)", concurrency, seconds, () => grpc.setSetting({ name: `bench.${n++ % 1000}`, value: { kind: { case: "numberValue", value: n } } })));
  } finally {
    server.kill("SIGTERM");
    await server.exited;
  }
  return rows;
}
