import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import { SystemService } from "../../gen/switchyard/system/v1/system_service_pb.js";
import { clientFor } from "../../src/testing/clients.ts";
import { startTestServer, type TestServer } from "../../src/testing/server.ts";

// What a newcomer, a fuzzer and the public clients found (issue 13), on one real server.

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer({ QDRANT_URL: "http://127.0.0.1:6333" });
});
afterAll(() => server.close());

describe("engines reported", () => {
  it("lists only engines really in use: no vectors engine from QDRANT_URL alone", async () => {
    const info = await clientFor(SystemService, server.url, "connect").getInfo({});
    expect(info.engines).toEqual({ database: "sqlite", bus: "in-process" });
  });
});
