import { describe, expect, it } from "bun:test";
import type { JsonObject } from "@bufbuild/protobuf";
import { ListSettingsRequestSchema, SetSettingRequestSchema, WatchHealthRequestSchema } from "../../../gen/switchyard/system/v1/system_service_pb.js";
import { HealthCheckResponseSchema } from "../../../gen/grpc/health/v1/health_pb.js";
import { compileTemplate, TemplateError } from "./path-template.ts";
import { setPathParam, setQueryParams } from "./request-json.ts";

describe("path templates", () => {
  it("binds a simple variable and a custom verb", () => {
    const t = compileTemplate("/v1/tasks/{id}:claim");
    expect(t.match("/v1/tasks/task_1:claim")).toEqual({ id: "task_1" });
    expect(t.match("/v1/tasks/task_1")).toBeUndefined();
    expect(t.verb).toBe("claim");
  });

  it("binds a variable with a multi-segment pattern and a nested field path", () => {
    const t = compileTemplate("/v1/{parent.name=projects/*/queues/*}/tasks");
    expect(t.match("/v1/projects/p1/queues/q1/tasks")).toEqual({ "parent.name": "projects/p1/queues/q1" });
    expect(t.match("/v1/projects/p1/tasks")).toBeUndefined();
  });

  it("binds ** across slashes and decodes each segment", () => {
    const t = compileTemplate("/v1/leases/{path=**}");
    expect(t.match("/v1/leases/src/a%20b/c.ts")).toEqual({ path: "src/a b/c.ts" });
    expect(t.match("/v1/leases/a%2Fb")).toEqual({ path: "a/b" });
  });

  it("refuses malformed templates", () => {
    expect(() => compileTemplate("v1/x")).toThrow(TemplateError);
    expect(() => compileTemplate("/v1/{id")).toThrow(TemplateError);
    expect(() => compileTemplate("/v1//x")).toThrow(TemplateError);
  });
});

describe("query and path binding", () => {
  it("collects repeated parameters and reads both spellings of a name", () => {
    const json: JsonObject = {};
    setQueryParams(ListSettingsRequestSchema, json, new URLSearchParams("names=a&names=b&pageSize=3&page_token=t"), new Set());
    expect(json).toEqual({ names: ["a", "b"], page_size: "3", page_token: "t" });
  });

  it("fills nested message fields from dotted names and well-known types from strings", () => {
    const json: JsonObject = {};
    setQueryParams(WatchHealthRequestSchema, json, new URLSearchParams("interval=2s"), new Set());
    expect(json).toEqual({ interval: "2s" });
    const nested: JsonObject = {};
    setPathParam(SetSettingRequestSchema, nested, "name", "x.y");
    expect(nested).toEqual({ name: "x.y" });
  });

  it("accepts enum values by full and short name", () => {
    const json: JsonObject = {};
    setQueryParams(HealthCheckResponseSchema, json, new URLSearchParams("status=SERVING"), new Set());
    expect(json).toEqual({ status: "SERVING" });
  });

  it("refuses unknown names, non-repeated fields given twice and whole messages", () => {
    expect(() => setQueryParams(ListSettingsRequestSchema, {}, new URLSearchParams("nope=1"), new Set())).toThrow("nope");
    expect(() => setQueryParams(ListSettingsRequestSchema, {}, new URLSearchParams("prefix=a&prefix=b"), new Set())).toThrow("more than once");
    expect(() => setQueryParams(SetSettingRequestSchema, {}, new URLSearchParams("name.x=1"), new Set())).toThrow("name.x");
  });
});
