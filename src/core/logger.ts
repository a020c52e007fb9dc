/** Structured logging: one JSON object per line on stdout (errors on stderr). */
export interface Logger {
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
}

const LEVELS = { debug: 10, info: 20, warn: 30, error: 40 } as const;
export type LogLevel = keyof typeof LEVELS;

/** Log lines that could not be written (stdout/stderr on a full disk, a closed pipe). */
export const droppedLogLines = { count: 0 };
let guarded = false;

/** A logger writing JSON lines at or above `level`; `sink` is for tests. */
export function createLogger(level: LogLevel = "info", sink?: (line: string, level: LogLevel) => void): Logger {
  const min = LEVELS[level];
  if (!sink && !guarded) {
    // A log that cannot be written (ENOSPC, EPIPE) must not take the server down with it.
    guarded = true;
    process.stdout.on?.("error", () => droppedLogLines.count++);
    process.stderr.on?.("error", () => droppedLogLines.count++);
  }
  const write =
    sink ??
    ((line: string, lvl: LogLevel) => {
      try {
        if (lvl === "error" || lvl === "warn") process.stderr.write(line + "\n");
        else process.stdout.write(line + "\n");
      } catch {
        droppedLogLines.count++;
      }
    });
  const emit = (lvl: LogLevel, msg: string, fields?: Record<string, unknown>) => {
    if (LEVELS[lvl] < min) return;
    write(JSON.stringify({ time: new Date().toISOString(), level: lvl, msg, ...fields }, errorReplacer), lvl);
  };
  return {
    debug: (m, f) => emit("debug", m, f),
    info: (m, f) => emit("info", m, f),
    warn: (m, f) => emit("warn", m, f),
    error: (m, f) => emit("error", m, f),
  };
}

function errorReplacer(_key: string, value: unknown): unknown {
  if (value instanceof Error) return { name: value.name, message: value.message, stack: value.stack };
  if (typeof value === "bigint") return value.toString();
  return value;
}

/** A logger that drops everything: for tests that do not look at logs. */
export const silentLogger: Logger = { debug() {}, info() {}, warn() {}, error() {} };
