// Rendering: JSON (proto field names), YAML, or a table sized to the terminal (or --width);
// colours only on a terminal and never with NO_COLOR or --no-color.
import { stringify as toYaml } from "yaml";

export type Format = "table" | "json" | "yaml";
export type Json = any; // proto JSON objects, read by path
export type Column = [header: string, value: (row: Json) => unknown];

export interface Out {
  format: Format;
  color: boolean;
  width?: number;
  write(text: string): void;
}

const ANSI: Record<string, string> = { red: "31", green: "32", yellow: "33", blue: "34", magenta: "35", cyan: "36", gray: "90", bold: "1" };
export const paint = (out: Out, color: string, text: string) => (out.color && ANSI[color] ? `\x1b[${ANSI[color]}m${text}\x1b[0m` : text);

const STATE_COLOR: Record<string, string> = {
  SUCCEEDED: "green",
  HEALTHY: "green",
  SERVING: "green",
  FAILED: "red",
  TIMED_OUT: "red",
  UNHEALTHY: "red",
  RUNNING: "yellow",
  DEGRADED: "yellow",
  PENDING: "cyan",
  BLOCKED: "magenta",
  CANCELLED: "gray",
};

/** `TASK_STATE_SUCCEEDED` → `SUCCEEDED` (the enum's prefix is noise in a table). */
export const short = (v: unknown, prefix: string) => (typeof v === "string" ? v.replace(prefix, "") : v);

function cell(v: unknown): string {
  if (v === undefined || v === null) return "";
  if (typeof v === "string") return v;
  if (typeof v === "number" || typeof v === "boolean" || typeof v === "bigint") return String(v);
  return JSON.stringify(v);
}

/** Lays rows out in columns; the widest columns shrink (with …) until the line fits `width`. */
export function table(rows: Json[], columns: Column[], width?: number, colorize?: (header: string, text: string) => string): string {
  const head = columns.map(([h]) => h);
  const body = rows.map((r) => columns.map(([, f]) => cell(f(r)).replace(/\s+/g, " ")));
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  const gap = 2;
  if (width !== undefined) {
    const total = () => widths.reduce((a, b) => a + b, 0) + gap * (widths.length - 1);
    while (total() > width) {
      let widest = 0;
      for (let i = 1; i < widths.length; i++) if (widths[i]! > widths[widest]!) widest = i;
      if (widths[widest]! <= 4) break;
      widths[widest]!--;
    }
  }
  const fit = (text: string, w: number) => (text.length > w ? text.slice(0, Math.max(0, w - 1)) + "…" : text.padEnd(w));
  const line = (cells: string[], paintCell?: (i: number, s: string) => string) =>
    cells
      .map((c, i) => {
        const s = fit(c, widths[i]!);
        return paintCell ? paintCell(i, s) : s;
      })
      .join(" ".repeat(gap))
      .trimEnd();
  return [line(head), ...body.map((b) => line(b, colorize ? (i, s) => colorize(head[i]!, s) : undefined))].join("\n") + "\n";
}

/** Prints one result: a list of rows or one object. */
export function render(out: Out, data: Json | Json[], columns: Column[]): void {
  if (out.format === "json") return out.write(JSON.stringify(data, null, 2) + "\n");
  if (out.format === "yaml") return out.write(toYaml(data));
  const rows = Array.isArray(data) ? data : [data];
  out.write(table(rows, columns, out.width, colorizer(out)));
}

function colorizer(out: Out) {
  if (!out.color) return undefined;
  return (header: string, text: string) => {
    if (header === "STATE" || header === "STATUS") {
      const c = STATE_COLOR[text.trim()];
      return c ? paint(out, c, text) : text;
    }
    return text;
  };
}

/** A streaming printer (watch, tail): JSON lines, YAML documents, or table rows under one header
 * (rows cannot be measured ahead: each column has a fixed width, the last one takes the rest). */
export function streamer(out: Out, columns: Column[], widths: number[]): (item: Json) => void {
  let first = true;
  const color = colorizer(out);
  const fit = (text: string, w: number | undefined) => (w === undefined ? text : text.length > w ? text.slice(0, w - 1) + "…" : text.padEnd(w));
  const line = (cells: string[], paintIt: boolean) =>
    cells.map((c, i) => (paintIt && color ? color(columns[i]![0], fit(c, widths[i])) : fit(c, widths[i]))).join("  ").trimEnd();
  return (item) => {
    if (out.format === "json") return out.write(JSON.stringify(item) + "\n");
    if (out.format === "yaml") return out.write("---\n" + toYaml(item));
    if (first) out.write(line(columns.map(([h]) => h), false) + "\n");
    first = false;
    let text = line(columns.map(([, f]) => cell(f(item)).replace(/\s+/g, " ")), true);
    if (out.width !== undefined && !out.color && text.length > out.width) text = text.slice(0, out.width - 1) + "…";
    out.write(text + "\n");
  };
}
