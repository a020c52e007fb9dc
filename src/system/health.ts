import type { Clock } from "../core/clock.ts";

/** The state of one component as its check reports it. */
export interface ComponentState {
  name: string;
  /** "operational", "degraded", "down", "configured" or "not configured". */
  status: string;
  message: string;
  /** Whether the server is unhealthy when this component is down. */
  required: boolean;
  configured?: boolean;
}

/** A component the server depends on, checked on demand (cheap checks only). */
export interface HealthCheck {
  name: string;
  required: boolean;
  check(): Omit<ComponentState, "name" | "required">;
}

export type OverallStatus = "healthy" | "degraded" | "unhealthy";

export interface HealthReport {
  status: OverallStatus;
  time: number;
  components: ComponentState[];
  draining: boolean;
}

/** Health of the server: its components, draining state, and watchers of changes. */
export interface HealthMonitor {
  report(): HealthReport;
  /** Marks the server as shutting down: unhealthy, NOT_SERVING, watchers told. */
  setDraining(): void;
  readonly draining: boolean;
  /** Calls `listener` whenever the overall status may have changed; returns an unsubscribe. */
  onChange(listener: () => void): () => void;
  /** Registers a component after start (a domain that comes up later). */
  add(check: HealthCheck): void;
}

/** Creates the health monitor over the given component checks. */
export function createHealthMonitor(options: { clock: Clock; checks: HealthCheck[] }): HealthMonitor {
  const checks = [...options.checks];
  const listeners = new Set<() => void>();
  let draining = false;
  return {
    get draining() {
      return draining;
    },
    report() {
      const components = checks.map((c) => {
        try {
          return { name: c.name, required: c.required, ...c.check() };
        } catch (error) {
          return { name: c.name, required: c.required, status: "down", message: error instanceof Error ? error.message : String(error) };
        }
      });
      const down = components.filter((c) => c.status === "down" || c.status === "degraded");
      let status: OverallStatus = "healthy";
      if (draining || down.some((c) => c.required && c.status === "down")) status = "unhealthy";
      else if (down.length > 0) status = "degraded";
      return { status, time: options.clock.now(), components, draining };
    },
    setDraining() {
      draining = true;
      for (const l of listeners) l();
    },
    onChange(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    add(check) {
      checks.push(check);
      for (const l of listeners) l();
    },
  };
}
