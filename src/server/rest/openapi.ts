import { getOption, hasOption, ScalarType, type DescEnum, type DescField, type DescMessage, type DescService } from "@bufbuild/protobuf";
import { getComments } from "@bufbuild/protoplugin";
import { http } from "../../../gen/google/api/annotations_pb.js";
import { bindings } from "./routes.ts";
import { methodPolicy, openApiSecurity } from "../policy.ts";

type Schema = Record<string, unknown>;

/** JSON Schema of well-known types in their protobuf JSON form. */
const WKT: Record<string, Schema> = {
  "google.protobuf.Timestamp": { type: "string", format: "date-time" },
  "google.protobuf.Duration": { type: "string", pattern: "^-?\\d+(\\.\\d+)?s$", example: "1.5s" },
  "google.protobuf.Struct": { type: "object", additionalProperties: true },
  "google.protobuf.Value": {},
  "google.protobuf.ListValue": { type: "array", items: {} },
  "google.protobuf.Empty": { type: "object" },
  "google.protobuf.FieldMask": { type: "string" },
  "google.protobuf.Any": { type: "object", additionalProperties: true },
  "google.protobuf.StringValue": { type: "string" },
  "google.protobuf.BoolValue": { type: "boolean" },
  "google.protobuf.Int32Value": { type: "integer", format: "int32" },
  "google.protobuf.Int64Value": { type: "string", format: "int64" },
  "google.protobuf.DoubleValue": { type: "number" },
  "google.protobuf.FloatValue": { type: "number" },
  "google.protobuf.BytesValue": { type: "string", format: "byte" },
};

function scalarSchema(t: ScalarType): Schema {
  switch (t) {
    case ScalarType.BOOL:
      return { type: "boolean" };
    case ScalarType.STRING:
      return { type: "string" };
    case ScalarType.BYTES:
      return { type: "string", format: "byte" };
    case ScalarType.DOUBLE:
    case ScalarType.FLOAT:
      return { type: "number" };
    case ScalarType.INT64:
    case ScalarType.UINT64:
    case ScalarType.SINT64:
    case ScalarType.FIXED64:
    case ScalarType.SFIXED64:
      // protobuf JSON writes 64-bit integers as strings (they exceed JavaScript's safe range).
      return { type: "string", format: "int64" };
    default:
      return { type: "integer", format: "int32" };
  }
}

const text = (s: string | undefined) => (s ?? "").trim().replace(/\n /g, "\n");

/**
 * The OpenAPI 3.1 document of the REST API, from the same descriptors and google.api.http rules
 * the transcoder reads, with the proto comments as descriptions.
 */
export function buildOpenApi(services: DescService[], info: { title: string; version: string }): Schema {
  const schemas: Record<string, Schema> = {};
  const ref = (m: DescMessage): Schema => {
    if (WKT[m.typeName]) return WKT[m.typeName]!;
    if (!schemas[m.typeName]) {
      schemas[m.typeName] = {}; // placeholder against recursion
      schemas[m.typeName] = messageSchema(m);
    }
    return { $ref: `#/components/schemas/${m.typeName}` };
  };
  const fieldSchema = (f: DescField): Schema => {
    const one = (): Schema => {
      const kind = f.fieldKind === "list" ? f.listKind : f.fieldKind === "map" ? f.mapKind : f.fieldKind;
      if (kind === "message") return ref((f as { message: DescMessage }).message);
      if (kind === "enum") {
        const e = (f as { enum: DescEnum }).enum;
        return { type: "string", enum: e.values.map((v) => v.name) };
      }
      return scalarSchema((f as { scalar: ScalarType }).scalar);
    };
    const base = f.fieldKind === "list" ? { type: "array", items: one() } : f.fieldKind === "map" ? { type: "object", additionalProperties: one() } : one();
    const description = text(getComments(f).leading);
    return description ? { ...base, description } : base;
  };
  function messageSchema(m: DescMessage): Schema {
    const properties: Record<string, Schema> = {};
    for (const f of m.fields) properties[f.name] = fieldSchema(f);
    const description = text(getComments(m).leading);
    return { type: "object", ...(description ? { description } : {}), properties, additionalProperties: false };
  }

  const paths: Record<string, Record<string, Schema>> = {};
  for (const service of services) {
    for (const method of service.methods) {
      if (!hasOption(method, http)) continue;
      const comments = text(getComments(method).leading);
      bindings(getOption(method, http)).forEach((b, i) => {
        const path = b.path.replace(/\{([\w.]+)=[^}]*\}/g, "{$1}");
        const vars = [...b.path.matchAll(/\{([\w.]+)(?:=[^}]*)?\}/g)].map((m) => m[1]!);
        const parameters: Schema[] = vars.map((name) => ({ name, in: "path", required: true, schema: { type: "string" } }));
        if (b.body !== "*") {
          for (const f of method.input.fields) {
            if (vars.includes(f.name) || f.name === b.body) continue;
            if (f.fieldKind === "map" || (f.fieldKind === "message" && !WKT[f.message.typeName])) continue;
            parameters.push({ name: f.name, in: "query", required: false, schema: fieldSchema(f) });
          }
        }
        const operation: Schema = {
          operationId: `${service.name}_${method.name}${i > 0 ? `_${i}` : ""}`,
          tags: [service.name],
          summary: comments.split("\n")[0] ?? "",
          description: comments,
          parameters,
          // From the same (switchyard.api.v1.policy) option the auth interceptor enforces.
          security: openApiSecurity(methodPolicy(method)),
          "x-switchyard-policy": methodPolicy(method),
          responses: {
            "200":
              method.methodKind === "server_streaming"
                ? { description: "Server-Sent Events: one `message` event per message, `error` on failure, `end` at the end.", content: { "text/event-stream": { schema: ref(method.output) } } }
                : { description: "OK", content: { "application/json": { schema: ref(method.output) } } },
            default: { description: "Error", content: { "application/json": { schema: { $ref: "#/components/schemas/Error" } } } },
          },
        };
        if (b.body !== "") {
          const target = b.body === "*" ? ref(method.input) : fieldSchema(method.input.fields.find((f) => f.name === b.body)!);
          operation.requestBody = { required: true, content: { "application/json": { schema: target } } };
        }
        (paths[path] ??= {})[b.httpMethod.toLowerCase()] = operation;
      });
    }
  }
  schemas.Error = {
    type: "object",
    properties: {
      error: {
        type: "object",
        properties: {
          code: { type: "string", description: "Connect code, e.g. not_found" },
          status: { type: "integer" },
          message: { type: "string" },
          reason: { type: "string", description: "Stable UPPER_SNAKE reason, e.g. TASK_NOT_FOUND" },
          metadata: { type: "object", additionalProperties: { type: "string" } },
        },
      },
    },
  };
  return {
    openapi: "3.1.0",
    info,
    paths,
    components: { schemas, securitySchemes: { bearer: { type: "http", scheme: "bearer" } } },
    security: [{ bearer: [] }],
  };
}
