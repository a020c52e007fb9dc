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
function isRequired(field: DescField): boolean {
  return hasOption(field, field_behavior) && getOption(field, field_behavior).includes(FieldBehavior.REQUIRED);
}

/**
 * The fields of a message that can break the contract, in field order: required ones, page
 * sizes, and those holding messages to look into. Made once per message type, so that a request
 * (a batch of 500 tasks is 500 messages) walks only these instead of every field of every message.
 */
interface Watched {
  field: DescField;
  required: boolean;
  pageSize: boolean;
  descend: boolean;
}
const plans = new WeakMap<DescMessage, Watched[]>();

function planOf(desc: DescMessage): Watched[] {
  let plan = plans.get(desc);
  if (plan) return plan;
  plan = [];
  for (const field of desc.fields) {
    const required = isRequired(field);
    const pageSize = field.name === "page_size" && field.fieldKind === "scalar";
    const descend =
      (field.fieldKind === "message" && !field.message.typeName.startsWith("google.protobuf.")) ||
      (field.fieldKind === "list" && field.listKind === "message") ||
      (field.fieldKind === "map" && field.mapKind === "message");
    if (required || pageSize || descend) plan.push({ field, required, pageSize, descend });
  }
  plans.set(desc, plan);
  return plan;
}

function check(msg: ReflectMessage, prefix: string): void {
  const unknown = msg.getUnknown();
  if (unknown && unknown.length > 0) {
    throw invalidArgument(`${prefix}#${unknown[0]!.no}`, `field number ${unknown[0]!.no} is unknown to ${msg.desc.typeName}`);
  }
  for (const { field, required, pageSize, descend } of planOf(msg.desc)) {
    if (!msg.isSet(field)) {
      if (required) throw invalidArgument(prefix + field.name, "is required");
      continue;
    }
    if (pageSize) {
      const size = Number(msg.get(field));
      if (size < 0 || size > MAX_PAGE_SIZE) throw invalidArgument(prefix + field.name, `must be between 0 and ${MAX_PAGE_SIZE}`);
    }
    if (!descend) continue;
    const path = prefix + field.name;
    if (field.fieldKind === "message") {
      check(msg.get(field) as ReflectMessage, `${path}.`);
    } else if (field.fieldKind === "list") {
      const list = msg.get(field);
      let i = 0;
      for (const item of list) check(item as ReflectMessage, `${path}[${i++}].`);
    } else if (field.fieldKind === "map") {
      for (const [key, value] of msg.get(field)) check(value as ReflectMessage, `${path}[${String(key)}].`);
    }
  }
}
