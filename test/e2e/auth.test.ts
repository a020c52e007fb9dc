import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import { join } from "node:path";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { Health } from "../../gen/grpc/health/v1/health_pb.js";
import { ErrorInfoSchema } from "../../gen/google/rpc/error_details_pb.js";
import { SystemService } from "../../gen/switchyard/system/v1/system_service_pb.js";
import { bearerMatches } from "../../src/server/interceptors/auth.ts";
import { clientFor, type Protocol } from "../../src/testing/clients.ts";
import { preparePython, runPython } from "../../src/testing/python.ts";
import { repoRoot, startTestServer, type TestServer } from "../../src/testing/server.ts";

const TOKEN = "test-token-0123456789abcdef";
let server: TestServer;
beforeAll(async () => {
  server = await startTestServer({ SWITCHYARD_API_TOKEN: TOKEN });
});
afterAll(() => server.close());

async function code(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return "ok";
  } catch (e) {
    const error = ConnectError.from(e);
    expect(error.code === Code.Unauthenticated ? error.findDetails(ErrorInfoSchema)[0]?.reason : "UNAUTHENTICATED").toBe("UNAUTHENTICATED");
    return Code[error.code];
  }
}

describe("with SWITCHYARD_API_TOKEN set", () => {
  for (const protocol of ["grpc", "grpc-web", "connect"] as Protocol[]) {
    it(`refuses a missing or wrong token and accepts the right one over ${protocol}`, async () => {
      expect(await code(clientFor(SystemService, server.url, protocol).getInfo({}))).toBe("Unauthenticated");
      expect(await code(clientFor(SystemService, server.url, protocol, "wrong-token-0123456789").getInfo({}))).toBe("Unauthenticated");
      expect(await code(clientFor(SystemService, server.url, protocol, TOKEN).getInfo({}))).toBe("ok");
    });
  }

  it("refuses a missing or wrong token and accepts the right one over REST", async () => {
    const missing = await fetch(`${server.url}/v1/system/info`);
    expect(missing.status).toBe(401);
    expect((await missing.json()).error).toMatchObject({ code: "unauthenticated", reason: "UNAUTHENTICATED" });
    const wrong = await fetch(`${server.url}/v1/system/info`, { headers: { authorization: "Bearer nope" } });
    expect(wrong.status).toBe(401);
    const basic = await fetch(`${server.url}/v1/system/info`, { headers: { authorization: `Basic ${TOKEN}` } });
    expect(basic.status).toBe(401);
    const right = await fetch(`${server.url}/v1/system/info`, { headers: { authorization: `Bearer ${TOKEN}` } });
    expect(right.status).toBe(200);
    expect((await right.json()).auth_required).toBe(true);
  });

  it("checks the token before judging the body", async () => {
    const res = await fetch(`${server.url}/v1/system/settings/x`, { method: "PUT", body: JSON.stringify({ bogus: 1 }) });
    expect(res.status).toBe(401);
  });

  it("refuses legacy routes without the token in the seed's error shape", async () => {
    const res = await fetch(`${server.url}/metrics`);
    expect(res.status).toBe(401);
    expect(await res.json()).toMatchObject({ error: "UNAUTHORIZED" });
    expect((await fetch(`${server.url}/metrics`, { headers: { authorization: `Bearer ${TOKEN}` } })).status).toBe(200);
  });

  it("keeps health open on every protocol", async () => {
    expect((await fetch(`${server.url}/health`)).status).toBe(200);
    expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
    expect((await fetch(`${server.url}/readyz`)).status).toBe(200);
    expect((await fetch(`${server.url}/v1/system/health`)).status).toBe(200);
    const health = createClient(Health, createGrpcTransport({ baseUrl: server.url }));
    expect((await health.check({})).status).toBe(1);
    for (const protocol of ["grpc", "grpc-web", "connect"] as Protocol[]) {
      expect(await code(clientFor(SystemService, server.url, protocol).getHealth({}))).toBe("ok");
    }
  });

  it("serves a Python grpcio client that sends the token", async () => {
    const py = await preparePython();
    const out = await runPython(py.python, [join(repoRoot, "test/python/system_client.py"), `127.0.0.1:${server.port}`, py.stubs, TOKEN]);
    expect(out.version).toBe("0.1.0");
  }, 180_000);
});

describe("bearer comparison", () => {
  it("accepts only the exact token after Bearer", () => {
    expect(bearerMatches(`Bearer ${TOKEN}`, TOKEN)).toBe(true);
    expect(bearerMatches(`bearer ${TOKEN}`, TOKEN)).toBe(true);
    expect(bearerMatches(`Bearer ${TOKEN}x`, TOKEN)).toBe(false);
    expect(bearerMatches(`Bearer ${TOKEN.slice(1)}`, TOKEN)).toBe(false);
    expect(bearerMatches(TOKEN, TOKEN)).toBe(false);
    expect(bearerMatches(undefined, TOKEN)).toBe(false);
  });
});

describe("without a token", () => {
  it("runs open and says so loudly at startup", async () => {
    const proc = Bun.spawn(["bun", join(repoRoot, "src/main.ts")], {
      env: { ...process.env, SWITCHYARD_PORT: "0", SWITCHYARD_HOST: "127.0.0.1", SWITCHYARD_DATA_DIR: `/tmp/switchyard-open-${process.pid}` },
      stdout: "pipe",
      stderr: "pipe",
    });
    const reader = proc.stderr.getReader();
    let text = "";
    while (!text.includes("\n")) text += new TextDecoder().decode((await reader.read()).value);
    proc.kill("SIGTERM");
    await proc.exited;
    expect(JSON.parse(text.split("\n")[0]!)).toMatchObject({ level: "warn" });
    expect(text).toContain("OPEN");
  });
});
