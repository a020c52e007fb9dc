import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import { connect as h2connect } from "node:http2";
import { connect as netConnect } from "node:net";
import { SystemService } from "../../gen/switchyard/system/v1/system_service_pb.js";
import { clientFor, type Protocol } from "../../src/testing/clients.ts";
import { startTestServer, type TestServer } from "../../src/testing/server.ts";

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(() => server.close());

/** Every protocol still answers. */
async function allProtocolsServe(): Promise<void> {
  for (const protocol of ["grpc", "grpc-web", "connect"] as Protocol[]) {
    expect((await clientFor(SystemService, server.url, protocol).getInfo({})).version).toBe("0.1.0");
  }
  expect((await fetch(`${server.url}/v1/system/info`)).status).toBe(200);
}

function rawSocket(bytes: Uint8Array | string): Promise<string> {
  return new Promise((resolve) => {
    const socket = netConnect(server.port, "127.0.0.1", () => socket.write(bytes));
    let answer = "";
    socket.on("data", (d) => (answer += d.toString()));
    socket.on("close", () => resolve(answer));
    socket.on("error", () => resolve(answer));
    setTimeout(() => socket.destroy(), 1000);
  });
}

describe("the one-port listener", () => {
  it("answers garbage bytes with 400 and keeps serving others", async () => {
    const answer = await rawSocket(new Uint8Array([0x16, 0x03, 0x01, 0xff, 0x00, 0x13, 0x37, 0x0d, 0x0a, 0x0d, 0x0a]));
    expect(answer).toStartWith("HTTP/1.1 400");
    await allProtocolsServe();
  });

  it("survives a connection opened and abandoned mid-preface", async () => {
    const socket = netConnect(server.port, "127.0.0.1");
    await new Promise((r) => socket.once("connect", r));
    socket.write("PRI * HTTP/2.0\r\n"); // half an HTTP/2 preface, then nothing
    await Bun.sleep(50);
    socket.destroy();
    const idle = netConnect(server.port, "127.0.0.1"); // connects and never speaks
    await new Promise((r) => idle.once("connect", r));
    await allProtocolsServe();
    idle.destroy();
  });

  it("survives an HTTP/2 stream reset in the middle of a server stream", async () => {
    const session = h2connect(server.url);
    const stream = session.request({
      ":method": "POST",
      ":path": "/switchyard.system.v1.SystemService/WatchHealth",
      "content-type": "application/grpc",
      te: "trailers",
    });
    // gRPC frame for WatchHealthRequest{interval: 0.1s}: field 1 (Duration) { nanos = 100000000 }.
    const msg = Buffer.from([0x0a, 0x05, 0x10, 0x80, 0xc2, 0xd7, 0x2f]);
    const frame = Buffer.concat([Buffer.from([0, 0, 0, 0, msg.length]), msg]);
    stream.end(frame);
    await new Promise<void>((resolve) => stream.once("data", () => resolve()));
    stream.close(0x8); // RST_STREAM CANCEL while the server is streaming
    await Bun.sleep(100);
    session.destroy();
    await allProtocolsServe();
  });

  it("survives a client that drops the TCP connection in the middle of an HTTP/1.1 stream", async () => {
    const answer = new Promise<string>((resolve) => {
      const socket = netConnect(server.port, "127.0.0.1", () =>
        socket.write("GET /v1/system/health:watch?interval=0.1s HTTP/1.1\r\nhost: x\r\n\r\n"),
      );
      let text = "";
      socket.on("data", (d) => {
        text += d.toString();
        if (text.includes("event: message")) {
          socket.destroy();
          resolve(text);
        }
      });
    });
    expect(await answer).toContain("text/event-stream");
    await allProtocolsServe();
  });

  it("serves HTTP/1.1 and HTTP/2 clients at the same time on one port", async () => {
    const calls = Array.from({ length: 20 }, (_, i) =>
      clientFor(SystemService, server.url, (["grpc", "grpc-web", "connect"] as Protocol[])[i % 3]!).getInfo({}),
    );
    const rest = Array.from({ length: 10 }, () => fetch(`${server.url}/v1/system/info`).then((r) => r.status));
    expect((await Promise.all(calls)).every((r) => r.version === "0.1.0")).toBe(true);
    expect(await Promise.all(rest)).toEqual(Array(10).fill(200));
  });
});
