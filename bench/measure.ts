// Small helpers the benchmarks share (more of the older ones still carry their own copies).
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

/** The median of a list (the mean of the two middle values for an even count). */
export const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

/** CPU time (utime + stime, every thread) a process has used so far, in µs, from /proc. */
export const processCpuUs = (pid: number): number => {
  const f = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
  return (Number(f[11]) + Number(f[12])) * 10_000;
};

/** Writes one uncompressed gRPC message frame to `dir/name` (an h2load request body) and returns its path. */
export function grpcFrameFile(dir: string, name: string, message: Uint8Array): string {
  const frame = new Uint8Array(5 + message.byteLength);
  new DataView(frame.buffer).setUint32(1, message.byteLength);
  frame.set(message, 5);
  const path = join(dir, name);
  writeFileSync(path, frame);
  return path;
}

/** Runs h2load with `args` (which name `-n N`) and answers its req/s; throws unless all N calls succeeded. */
export function h2loadRate(args: string[]): number {
  const out = Bun.spawnSync(["h2load", ...args], { stdout: "pipe", stderr: "pipe" }).stdout.toString();
  const n = Number(/(\d+) succeeded/.exec(out)?.[1]);
  if (n !== Number(args[args.indexOf("-n") + 1])) throw new Error(`h2load: ${out}`);
  return Number(/([\d.]+) req\/s/.exec(out)![1]);
}
