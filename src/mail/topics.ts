import { AppError, invalidArgument } from "../core/errors.ts";

/** Every mail topic lives under this bus subject prefix (stream MAIL captures `mail.>`). */
export const MAIL_SUBJECT_PREFIX = "mail.";
/** Topics the server alone publishes on (lease events). */
export const RESERVED_TOPIC_PREFIX = "leases.";

const TOKEN = /^[A-Za-z0-9_\-:@]+$/;
const MAX_TOPIC = 256;
const MAX_TOKENS = 16;
const AGENT = /^[A-Za-z0-9_\-:@]{1,128}$/;
const HEADER_NAME = /^[A-Za-z0-9_\-.]{1,128}$/;
const MAX_HEADERS = 64;
const MAX_HEADER_VALUE = 4096;

/** Checks a concrete topic (`builds.done`); throws invalid_argument naming `field`. */
export function validateTopic(topic: unknown, field = "topic"): string {
  if (typeof topic !== "string" || topic.length === 0) throw invalidArgument(field, "is required");
  if (topic.length > MAX_TOPIC) throw invalidArgument(field, `must be at most ${MAX_TOPIC} characters`);
  const tokens = topic.split(".");
  if (tokens.length > MAX_TOKENS) throw invalidArgument(field, `must have at most ${MAX_TOKENS} dot-separated tokens`);
  for (const t of tokens) {
    if (!TOKEN.test(t)) throw invalidArgument(field, "must be dot-separated tokens of letters, digits, '_', '-', ':' or '@' (no wildcards)");
  }
  return topic;
}

/** Checks a topic pattern (`builds.*`, `inbox.>`, `>`); throws invalid_argument naming `field`. */
export function validatePattern(pattern: unknown, field = "topic"): string {
  if (typeof pattern !== "string" || pattern.length === 0) throw invalidArgument(field, "is required");
  if (pattern.length > MAX_TOPIC) throw invalidArgument(field, `must be at most ${MAX_TOPIC} characters`);
  const tokens = pattern.split(".");
  if (tokens.length > MAX_TOKENS) throw invalidArgument(field, `must have at most ${MAX_TOKENS} dot-separated tokens`);
  tokens.forEach((t, i) => {
    if (t === "*" || (t === ">" && i === tokens.length - 1)) return;
    if (!TOKEN.test(t)) throw invalidArgument(field, "must be dot-separated tokens, '*' for one token or a final '>' for the rest");
  });
  return pattern;
}

/** The inbox topic of an agent: `inbox.<agent>`. */
export function inboxTopic(agent: unknown, field = "agent"): string {
  if (typeof agent !== "string" || agent.length === 0) throw invalidArgument(field, "is required");
  if (!AGENT.test(agent)) throw invalidArgument(field, "must be 1–128 letters, digits, '_', '-', ':' or '@'");
  return `inbox.${agent}`;
}

/** Refuses client publishes on server-only topics (`leases.*`). */
export function assertPublishable(topic: string): void {
  if (topic.startsWith(RESERVED_TOPIC_PREFIX)) {
    throw new AppError("permission_denied", "TOPIC_RESERVED", `topics under ${RESERVED_TOPIC_PREFIX} are published by the server only`, { field: "topic" });
  }
}

/** Checks publisher headers: at most 64, names of letters/digits/`_-.`, values up to 4096 characters. */
export function validateHeaders(headers: unknown, field = "headers"): Record<string, string> {
  if (headers === undefined || headers === null) return {};
  if (typeof headers !== "object" || Array.isArray(headers)) throw invalidArgument(field, "must be an object of strings");
  const entries = Object.entries(headers as Record<string, unknown>);
  if (entries.length > MAX_HEADERS) throw invalidArgument(field, `must have at most ${MAX_HEADERS} entries`);
  const out: Record<string, string> = {};
  for (const [k, v] of entries) {
    if (!HEADER_NAME.test(k)) throw invalidArgument(field, `header name ${JSON.stringify(k.slice(0, 64))} must be 1–128 letters, digits, '_', '-' or '.'`);
    if (typeof v !== "string") throw invalidArgument(field, `header ${k} must be a string`);
    if (v.length > MAX_HEADER_VALUE) throw invalidArgument(field, `header ${k} must be at most ${MAX_HEADER_VALUE} characters`);
    out[k] = v;
  }
  return out;
}

/**
 * Topics are per tenant: `<topic>` of tenant `t` is bus subject `mail.<t>.<topic>`, so a pattern
 * (`>`, `builds.*`) never reaches past its tenant. Tenant names are single subject tokens.
 */
export const topicToSubject = (topicOrPattern: string, tenant: string) => `${MAIL_SUBJECT_PREFIX}${tenant}.${topicOrPattern}`;
/** The topic of a subject, without the `mail.<tenant>.` prefix. */
export const subjectToTopic = (subject: string) => {
  const rest = subject.slice(MAIL_SUBJECT_PREFIX.length);
  return rest.slice(rest.indexOf(".") + 1);
};
/** True when the subject belongs to the tenant. */
export const subjectInTenant = (subject: string, tenant: string) => subject.startsWith(`${MAIL_SUBJECT_PREFIX}${tenant}.`);
