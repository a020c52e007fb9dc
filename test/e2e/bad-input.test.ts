import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import { create, fromJson, type JsonObject } from "@bufbuild/protobuf";
import { WireType } from "@bufbuild/protobuf/wire";
import { ValueSchema } from "@bufbuild/protobuf/wkt";
import { ConnectError } from "@connectrpc/connect";
import { ErrorInfoSchema } from "../../gen/google/rpc/error_details_pb.js";
import { SetSettingRequestSchema, SystemService } from "../../gen/switchyard/system/v1/system_service_pb.js";
import { codeName } from "../../src/server/errors.ts";
import { clientFor, type Protocol } from "../../src/testing/clients.ts";
import { startTestServer, type TestServer } from "../../src/testing/server.ts";

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(() => server.close());

type Want = { code: string; reason: string; field?: string };
type Client = ReturnType<typeof clientFor<typeof SystemService>>;

interface Case {
  name: string;
  /** The call over gRPC, gRPC-Web and Connect (undefined where the mistake cannot be written in that encoding). */
  rpc?: (c: Client, protocol: Protocol) => Promise<unknown>;
  rest: { method: string; path: string; body?: string };
  want: Want;
  /** Only JSON can carry this mistake. */
  jsonOnly?: boolean;
  /** Field named over binary protocols when it differs (they carry numbers, not names). */
  binaryField?: string;
}

const value = (v: unknown) => fromJson(ValueSchema, v as JsonObject);

/** A SetSettingRequest carrying field number 99, unknown to the server. */
function withUnknownField() {
  const req = create(SetSettingRequestSchema, { name: "ok.name", value: value(1) });
  req.$unknown = [{ no: 99, wireType: WireType.Varint, data: new Uint8Array([1]) }];
  return req;
}

const cases: Case[] = [
  {
    name: "a missing required field",
    rpc: (c) => c.setSetting({ value: value(1) }),
    rest: { method: "POST", path: "/v1/system/settings", body: JSON.stringify({ value: 1 }) },
    want: { code: "invalid_argument", reason: "INVALID_ARGUMENT", field: "name" },
  },
  {
    name: "a page size over the limit",
    rpc: (c) => c.listSettings({ pageSize: 5000 }),
    rest: { method: "GET", path: "/v1/system/settings?page_size=5000" },
    want: { code: "invalid_argument", reason: "INVALID_ARGUMENT", field: "page_size" },
  },
  {
    name: "a negative page size",
    rpc: (c) => c.listSettings({ pageSize: -1 }),
    rest: { method: "GET", path: "/v1/system/settings?page_size=-1" },
    want: { code: "invalid_argument", reason: "INVALID_ARGUMENT", field: "page_size" },
  },
  {
    name: "an unknown field",
    rpc: (c, p) => (p === "connect" ? connectJson("SetSetting", { name: "ok.name", value: 1, colour: "red" }) : c.setSetting(withUnknownField())),
    rest: { method: "PUT", path: "/v1/system/settings/ok.name", body: JSON.stringify({ value: 1, colour: "red" }) },
    want: { code: "invalid_argument", reason: "INVALID_ARGUMENT", field: "colour" },
    binaryField: "#99",
  },
  {
    name: "a wrong JSON type",
    jsonOnly: true,
    rpc: () => connectJson("GetSetting", { name: 42 }),
    rest: { method: "POST", path: "/v1/system/settings", body: JSON.stringify({ name: ["x"], value: 1 }) },
    want: { code: "invalid_argument", reason: "INVALID_ARGUMENT", field: "name" },
  },
  {
    name: "a value out of its range",
    rpc: (c) => c.setSetting({ name: "bad name!", value: value(1) }),
    rest: { method: "PUT", path: "/v1/system/settings/bad%20name!", body: JSON.stringify({ value: 1 }) },
    want: { code: "invalid_argument", reason: "INVALID_ARGUMENT", field: "name" },
  },
  {
    name: "a bad argument to a server stream",
    rpc: async (c) => {
      for await (const _ of c.watchHealth({ interval: { seconds: 0n, nanos: 1_000_000 } })) break;
    },
    rest: { method: "GET", path: "/v1/system/health:watch?interval=0.001s" },
    want: { code: "invalid_argument", reason: "INVALID_ARGUMENT", field: "interval" },
  },
  {
    name: "a resource that does not exist",
    rpc: (c) => c.getSetting({ name: "never.set" }),
    rest: { method: "GET", path: "/v1/system/settings/never.set" },
    want: { code: "not_found", reason: "SETTING_NOT_FOUND" },
  },
  {
    name: "a body that is not JSON",
    jsonOnly: true,
    rpc: () => connectJson("GetSetting", "{not json"),
    rest: { method: "POST", path: "/v1/system/settings", body: "{not json" },
    want: { code: "invalid_argument", reason: "INVALID_ARGUMENT" },
  },
];

/** A raw Connect JSON call, so the body can hold what no typed client would send. */
async function connectJson(method: string, body: unknown): Promise<unknown> {
  const res = await fetch(`${server.url}/switchyard.system.v1.SystemService/${method}`, {
    method: "POST",
    headers: { "content-type": "application/json", "connect-protocol-version": "1" },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
  const json = await res.json();
  if (res.ok) return json;
  const info = (json.details ?? []).find((d: { type: string }) => d.type === "google.rpc.ErrorInfo")?.debug;
  throw Object.assign(new Error(json.message), { wire: { code: json.code, reason: info?.reason, field: info?.metadata?.field } });
}

async function outcome(p: Promise<unknown>): Promise<Want> {
  try {
    await p;
  } catch (e) {
    const wire = (e as { wire?: Want }).wire;
    if (wire) return wire;
    const error = ConnectError.from(e);
    const info = error.findDetails(ErrorInfoSchema)[0];
    return { code: codeName(error.code), reason: info?.reason ?? "", field: info?.metadata.field };
  }
  throw new Error("expected the call to fail");
}

function expectWant(got: Want, want: Want) {
  expect(got.code).toBe(want.code);
  expect(got.reason).toBe(want.reason);
  if (want.field !== undefined) expect(got.field).toBe(want.field);
}

describe("the same bad request gets the same code and reason on every protocol", () => {
  for (const c of cases) {
    for (const protocol of ["grpc", "grpc-web", "connect"] as Protocol[]) {
      // JSON mistakes cannot be written in the binary encoding gRPC and gRPC-Web use.
      if (c.jsonOnly && protocol !== "connect") continue;
      it(`${c.name} over ${protocol}`, async () => {
        const got = await outcome(c.rpc!(clientFor(SystemService, server.url, protocol), protocol));
        const field = protocol !== "connect" && c.binaryField ? c.binaryField : c.want.field;
        expectWant(got, { ...c.want, field });
      });
    }
    it(`${c.name} over REST`, async () => {
      const res = await fetch(server.url + c.rest.path, { method: c.rest.method, body: c.rest.body });
      const body = await res.json();
      expect(res.status).toBe(c.want.code === "not_found" ? 404 : 400);
      expectWant({ code: body.error.code, reason: body.error.reason, field: body.error.metadata.field }, c.want);
    });
  }
});

describe("limits", () => {
  it("refuses a REST body over the limit with 413 and stores nothing", async () => {
    const small = await startTestServer({ SWITCHYARD_MAX_BODY_BYTES: "2048" });
    try {
      const res = await fetch(`${small.url}/v1/system/settings/big`, { method: "PUT", body: JSON.stringify({ value: "x".repeat(5000) }) });
      expect(res.status).toBe(413);
      expect((await res.json()).error.reason).toBe("BODY_TOO_LARGE");
      expect((await fetch(`${small.url}/v1/system/settings/big`)).status).toBe(404);
    } finally {
      await small.close();
    }
  });

  it("refuses an RPC message over the limit with resource_exhausted", async () => {
    const small = await startTestServer({ SWITCHYARD_MAX_MESSAGE_BYTES: "2048" });
    try {
      for (const protocol of ["grpc", "connect"] as Protocol[]) {
        const got = await outcome(clientFor(SystemService, small.url, protocol).setSetting({ name: "big", value: value("x".repeat(5000)) }));
        expect(got.code).toBe("resource_exhausted");
      }
    } finally {
      await small.close();
    }
  });

  it("refuses a deadline longer than the maximum", async () => {
    const got = await outcome(
      clientFor(SystemService, server.url, "grpc").getInfo({}, { timeoutMs: server.config.maxDeadlineMs + 60_000 }),
    );
    expect(got.code).toBe("invalid_argument");
  });

  it("announces its concurrent stream limit to HTTP/2 clients", async () => {
    const http2 = await import("node:http2");
    const session = http2.connect(server.url);
    const settings = await new Promise<{ maxConcurrentStreams?: number }>((resolve) => session.once("remoteSettings", resolve));
    session.close();
    expect(settings.maxConcurrentStreams).toBe(server.config.maxConcurrentStreams);
  });
});
