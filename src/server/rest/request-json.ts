import { ScalarType, type DescEnum, type DescField, type DescMessage, type JsonObject, type JsonValue } from "@bufbuild/protobuf";
import { invalidArgument } from "../../core/errors.ts";

/** Message types a single query or path value may fill (their JSON form is a string). */
const STRING_WKT = new Set([
  "google.protobuf.Timestamp",
  "google.protobuf.Duration",
  "google.protobuf.FieldMask",
  "google.protobuf.StringValue",
  "google.protobuf.BytesValue",
  "google.protobuf.Int64Value",
  "google.protobuf.UInt64Value",
  "google.protobuf.Int32Value",
  "google.protobuf.UInt32Value",
  "google.protobuf.DoubleValue",
  "google.protobuf.FloatValue",
  "google.protobuf.BoolValue",
  "google.protobuf.Value",
]);

/** The field of `desc` named `key` by its proto name or its JSON name. */
export function findField(desc: DescMessage, key: string): DescField | undefined {
  return desc.fields.find((f) => f.name === key || f.jsonName === key);
}

/** Resolves a dotted path (`filter.queue`) to its fields, naming the segment at fault. */
function resolvePath(desc: DescMessage, path: string[], source: string): DescField[] {
  const fields: DescField[] = [];
  let current: DescMessage | undefined = desc;
  for (let i = 0; i < path.length; i++) {
    const name = path.slice(0, i + 1).join(".");
    if (!current) throw invalidArgument(name, `${source} names a field inside a non-message field`);
    const field = findField(current, path[i]!);
    if (!field) throw invalidArgument(name, `${source} names an unknown field`);
    fields.push(field);
    current = field.fieldKind === "message" && !STRING_WKT.has(field.message.typeName) ? field.message : undefined;
  }
  return fields;
}

function enumValue(e: DescEnum, raw: string): string | number {
  if (/^-?\d+$/.test(raw)) return Number(raw);
  if (e.values.some((v) => v.name === raw)) return raw;
  // Accept the short form too: `state=PENDING` for `TASK_STATE_PENDING`.
  const prefixed = e.values.find((v) => v.name === `${e.sharedPrefix ?? ""}${raw.toUpperCase()}` || v.localName === raw);
  return prefixed ? prefixed.name : raw;
}

/** The JSON value a text value stands for, for a field of the given kind. */
function scalarJson(field: DescField, raw: string, name: string): JsonValue {
  const kind = field.fieldKind === "list" ? field.listKind : field.fieldKind;
  if (kind === "enum") return enumValue((field as { enum: DescEnum }).enum, raw);
  if (kind === "message") return raw; // a string-valued well-known type
  const scalar = (field as { scalar: ScalarType }).scalar;
  if (scalar === ScalarType.BOOL) {
    if (raw === "true" || raw === "1") return true;
    if (raw === "false" || raw === "0") return false;
    throw invalidArgument(name, `"${raw}" is not a boolean`);
  }
  return raw; // numbers and strings: protobuf JSON accepts numbers written as strings
}

function assign(target: JsonObject, fields: DescField[], value: JsonValue, append: boolean): void {
  let obj = target;
  for (let i = 0; i < fields.length - 1; i++) {
    const key = fields[i]!.name;
    const next = obj[key];
    if (next === undefined || next === null || typeof next !== "object" || Array.isArray(next)) obj[key] = {};
    obj = obj[key] as JsonObject;
  }
  const key = fields[fields.length - 1]!.name;
  // Proto names and JSON names are two spellings of one field: keep only one.
  const jsonName = fields[fields.length - 1]!.jsonName;
  if (jsonName !== key && jsonName in obj) {
    obj[key] = obj[jsonName]!;
    delete obj[jsonName];
  }
  if (append) {
    const existing = obj[key];
    obj[key] = Array.isArray(existing) ? [...existing, value] : [value];
  } else obj[key] = value;
}

/** Writes a path variable into the request JSON (path values win over the body). */
export function setPathParam(desc: DescMessage, target: JsonObject, path: string, raw: string): void {
  const fields = resolvePath(desc, path.split("."), "path");
  const last = fields[fields.length - 1]!;
  assign(target, fields, scalarJson(last, raw, path), false);
}

/**
 * Writes query parameters into the request JSON: dotted names reach nested fields, repeated
 * fields take every occurrence, unknown names are refused. `skip` holds fields already bound
 * by the path or the body.
 */
export function setQueryParams(desc: DescMessage, target: JsonObject, query: URLSearchParams, skip: Set<string>): void {
  for (const key of new Set(query.keys())) {
    const fields = resolvePath(desc, key.split("."), "query parameter");
    const canonical = fields.map((f) => f.name).join(".");
    if (skip.has(canonical)) continue;
    const last = fields[fields.length - 1]!;
    if (last.fieldKind === "map") throw invalidArgument(canonical, "map fields cannot be set from the query string");
    if (last.fieldKind === "message" && !STRING_WKT.has(last.message.typeName)) {
      throw invalidArgument(canonical, "is a message: set its fields with dotted names");
    }
    const values = query.getAll(key);
    if (last.fieldKind === "list") {
      for (const raw of values) assign(target, fields, scalarJson(last, raw, canonical), true);
    } else {
      if (values.length > 1) throw invalidArgument(canonical, "is not repeated but was given more than once");
      assign(target, fields, scalarJson(last, values[0]!, canonical), false);
    }
  }
}
