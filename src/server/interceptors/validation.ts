import { getOption, hasOption, type DescField, type DescMessage, type Message } from "@bufbuild/protobuf";
import { reflect, type ReflectMessage } from "@bufbuild/protobuf/reflect";
import type { Interceptor } from "@connectrpc/connect";
import { FieldBehavior, field_behavior } from "../../../gen/google/api/field_behavior_pb.js";
import { invalidArgument } from "../../core/errors.ts";

/** Largest page a List may ask for; larger is `invalid_argument` (see proto/README.md). */
export const MAX_PAGE_SIZE = 1000;

/**
 * Checks every request message against the contract before a handler sees it, identically
 * for every protocol: fields marked REQUIRED are set, no unknown fields (binary requests can
 * carry field numbers this server does not know), page sizes within 0..1000.
 */
export function validationInterceptor(): Interceptor {
  return (next) => async (req) => {
    if (!req.stream) {
      validateMessage(req.method.input, req.message);
      return next(req);
    }
    const source = req.message;
    async function* checked() {
      for await (const m of source) {
        validateMessage(req.method.input, m);
        yield m;
      }
    }
    return next({ ...req, message: checked() });
  };
}

/** Throws `invalid_argument` naming the first field of `message` that breaks the contract. */
export function validateMessage(desc: DescMessage, message: Message): void {
  check(reflect(desc, message), "");
}

/** Decoding a field's options is costly (it parses them each time): answered once per field. */
const required = new WeakMap<DescField, boolean>();

function isRequired(field: DescField): boolean {
  let r = required.get(field);
  if (r === undefined) {
    r = hasOption(field, field_behavior) && getOption(field, field_behavior).includes(FieldBehavior.REQUIRED);
    required.set(field, r);
  }
  return r;
}

function check(msg: ReflectMessage, prefix: string): void {
  const unknown = msg.getUnknown();
  if (unknown && unknown.length > 0) {
    throw invalidArgument(`${prefix}#${unknown[0]!.no}`, `field number ${unknown[0]!.no} is unknown to ${msg.desc.typeName}`);
  }
  for (const field of msg.fields) {
    const path = prefix + field.name;
    const set = msg.isSet(field);
    if (!set) {
      if (isRequired(field)) throw invalidArgument(path, "is required");
      continue;
    }
    if (field.name === "page_size" && field.fieldKind === "scalar") {
      const size = Number(msg.get(field));
      if (size < 0 || size > MAX_PAGE_SIZE) throw invalidArgument(path, `must be between 0 and ${MAX_PAGE_SIZE}`);
    }
    if (field.fieldKind === "message") {
      if (field.message.typeName.startsWith("google.protobuf.")) continue;
      check(msg.get(field) as ReflectMessage, `${path}.`);
    } else if (field.fieldKind === "list" && field.listKind === "message") {
      const list = msg.get(field);
      let i = 0;
      for (const item of list) check(item as ReflectMessage, `${path}[${i++}].`);
    } else if (field.fieldKind === "map" && field.mapKind === "message") {
      for (const [key, value] of msg.get(field)) check(value as ReflectMessage, `${path}[${String(key)}].`);
    }
  }
}
