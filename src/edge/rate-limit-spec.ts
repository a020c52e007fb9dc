/** Rate-limit classes and their windows, as configured (`SWITCHYARD_RATE_LIMITS`). Pure: no I/O. */

/** One window of a class: at most `limit` requests per `windowMs`, aligned to the Unix epoch. */
export interface RateWindow {
  limit: number;
  windowMs: number;
  /** `minute`, `hour`, `day`, or `<n>s` for other lengths. */
  name: string;
}

/** Windows by route class; a class absent or empty is not limited. */
export type RateLimitPolicy = Record<string, RateWindow[]>;

/**
 * Route classes: `api` (every gRPC, gRPC-Web, Connect and canonical REST call), one per legacy
 * family (`seed-000`, `seed-001`, `seed-003`, `seed-004`), and the narrower seed 001 classes
 * `seed-001-task-create` (`POST /api/task`) and `seed-001-server-register` (`POST /api/servers`),
 * which count on top of `seed-001`.
 */
export const RATE_LIMIT_CLASSES = ["api", "seed-000", "seed-001", "seed-001-task-create", "seed-001-server-register", "seed-003", "seed-004"] as const;

const UNITS: Record<string, { ms: number; name: string }> = {
  s: { ms: 1000, name: "second" },
  m: { ms: 60_000, name: "minute" },
  h: { ms: 3_600_000, name: "hour" },
  d: { ms: 86_400_000, name: "day" },
};

/** The seeds' own limits: seed 001 (100/min, task creation 50/min, registration 10/min), seed 004 (60/min, 1000/h, 5000/day). */
export const DEFAULT_RATE_LIMITS = "seed-001=100/m;seed-001-task-create=50/m;seed-001-server-register=10/m;seed-004=60/m,1000/h,5000/d";

/**
 * Parses `class=60/m,1000/h;other=off` over the defaults. `off` alone disables every class
 * (`off;api=5/m`: only those given); `class=off` one class. Windows are `<limit>/<unit>` with unit s, m, h or d (or `<n><unit>`,
 * e.g. `10/30s`). Throws an Error naming what is wrong.
 */
export function parseRateLimits(raw: string | undefined): RateLimitPolicy {
  const policy: RateLimitPolicy = {};
  const given = (raw ?? "").split(";").map((e) => e.trim()).filter(Boolean);
  // `off` first drops the defaults: `off` alone limits nothing, `off;api=5/m` only the API.
  const noDefaults = given[0]?.toLowerCase() === "off";
  const entries = [...(noDefaults ? [] : DEFAULT_RATE_LIMITS.split(";")), ...(noDefaults ? given.slice(1) : given)];
  for (const entry of entries) {
    const eq = entry.indexOf("=");
    if (eq <= 0) throw new Error(`"${entry}" is not class=windows`);
    const cls = entry.slice(0, eq).trim();
    if (!(RATE_LIMIT_CLASSES as readonly string[]).includes(cls)) throw new Error(`unknown class "${cls}" (one of ${RATE_LIMIT_CLASSES.join(", ")})`);
    const spec = entry.slice(eq + 1).trim();
    if (spec.toLowerCase() === "off") {
      policy[cls] = [];
      continue;
    }
    policy[cls] = spec
      .split(",")
      .map((w) => parseWindow(w.trim(), cls))
      .sort((a, b) => a.windowMs - b.windowMs);
  }
  return policy;
}

function parseWindow(w: string, cls: string): RateWindow {
  const m = /^(\d{1,9})\/(\d{0,6})([smhd])$/.exec(w);
  if (!m) throw new Error(`${cls}: "${w}" is not <limit>/<unit> (unit s, m, h or d)`);
  const limit = Number(m[1]);
  const count = m[2] ? Number(m[2]) : 1;
  if (limit < 1 || count < 1) throw new Error(`${cls}: "${w}" must be positive`);
  const unit = UNITS[m[3]!]!;
  return { limit, windowMs: unit.ms * count, name: count === 1 ? unit.name : `${(unit.ms * count) / 1000}s` };
}

const UNLIMITED_004 = new Set(["/webhooks/github", "/health", "/metrics", "/metrics/prometheus"]);

/** The classes a legacy route counts in: its family's, plus seed 001's narrower ones. */
export function legacyRouteClasses(familyName: string, method: string, path: string): string[] {
  const family = /^seed-\d{3}/.exec(familyName)?.[0];
  // GitHub's deliveries are authenticated by their signature and deduplicated; limiting them
  // per address would drop a busy installation's events (GitHub answers 200 and never retries).
  // Monitoring (health checks, scrapers polling from one address) is not what the limits guard.
  if (!family || (family === "seed-004" && UNLIMITED_004.has(path))) return [];
  const classes = [family];
  if (family === "seed-001" && method === "POST" && path === "/api/task") classes.push("seed-001-task-create");
  if (family === "seed-001" && method === "POST" && path === "/api/servers") classes.push("seed-001-server-register");
  return classes;
}
