import type { ServerEntry, ServerStatus } from "./types.ts";

/** What status derivation needs besides the entry. */
export interface StatusInputs {
  now: number;
  heartbeatTimeoutMs: number;
  /** The worker holds a live TaskService.ConnectWorker stream: that counts as a heartbeat now. */
  streaming: boolean;
}

/** When the server was last known alive: heartbeat, passing probe or live stream. */
export function lastSeen(e: ServerEntry, streaming: boolean, now: number): number | undefined {
  if (streaming) return now;
  const hb = e.lastHeartbeatTime;
  const probe = e.health.lastSuccessTime;
  if (hb === undefined) return probe;
  return probe === undefined ? hb : Math.max(hb, probe);
}

/**
 * A server's status by the server clock, in this order: MAINTENANCE while maintenance is on;
 * OFFLINE when ejected by outlier detection or silent past the heartbeat timeout; DEGRADED
 * when it reported trouble or its last probe failed; ONLINE otherwise.
 */
export function deriveStatus(e: ServerEntry, x: StatusInputs): ServerStatus {
  return statusAt(e, x.now, x.heartbeatTimeoutMs, x.streaming);
}

/** deriveStatus without an inputs object (the load balancer calls it for every server on every pick). */
export function statusAt(e: ServerEntry, now: number, heartbeatTimeoutMs: number, streaming: boolean): ServerStatus {
  if (e.maintenance) return "maintenance";
  if (e.health.ejected) return "offline";
  const seen = lastSeen(e, streaming, now);
  if (seen === undefined || now - seen > heartbeatTimeoutMs) return "offline";
  if (e.reportedHealth === "degraded" || e.reportedHealth === "unhealthy" || e.health.lastResult === "failing") return "degraded";
  return "online";
}
