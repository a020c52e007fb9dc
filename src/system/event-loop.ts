import { Gauge, type Registry } from "./prom.ts";

/**
 * Event-loop delay of this process, measured by how late a 50 ms timer fires: the largest and
 * the 99th percentile lateness over the last 10 s window, as Prometheus gauges
 * (`switchyard_event_loop_delay_seconds{quantile}`). A blocked loop (a synchronous fsync, a
 * huge JSON) shows here before it shows anywhere else.
 */
export function watchEventLoop(registry: Registry): { stop(): void } {
  const period = 50;
  let samples: number[] = [];
  let window: number[] = [];
  let expected = performance.now() + period;
  const timer = setInterval(() => {
    const now = performance.now();
    samples.push(Math.max(0, now - expected));
    expected = now + period;
  }, period);
  timer.unref?.();
  const rotate = setInterval(() => {
    window = samples;
    samples = [];
  }, 10_000);
  rotate.unref?.();
  new Gauge({
    name: "switchyard_event_loop_delay_seconds",
    help: "How late a 50 ms timer fired over the last 10 s window (max and p99)",
    labelNames: ["quantile"] as const,
    registers: [registry],
    collect() {
      const w = (window.length > 0 ? window : samples).slice().sort((a, b) => a - b);
      const at = (q: number) => (w.length ? w[Math.min(w.length - 1, Math.floor(w.length * q))]! : 0) / 1000;
      this.set({ quantile: "max" }, w.length ? w[w.length - 1]! / 1000 : 0);
      this.set({ quantile: "0.99" }, at(0.99));
    },
  });
  return {
    stop() {
      clearInterval(timer);
      clearInterval(rotate);
    },
  };
}
