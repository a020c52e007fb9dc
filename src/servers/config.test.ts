import { describe, expect, it } from "bun:test";
import { ConfigError, loadConfig } from "../config.ts";

describe("servers configuration", () => {
  it("has defaults: no allow-list, 30 s heartbeat timeout, the default queue pushed", () => {
    const c = loadConfig({}).servers;
    expect(c).toEqual({ backendAllow: [], heartbeatTimeoutMs: 30_000, healthCheckIntervalMs: 10_000, dispatchTimeoutMs: 30_000, pushQueues: ["default"], publicUrl: undefined, refreshMs: 1000 });
  });

  it("reads hosts, addresses and CIDRs into the allow-list and refuses anything else, naming the variable", () => {
    const c = loadConfig({ SWITCHYARD_BACKEND_ALLOW: "gpu.internal, 10.0.0.0/8,127.0.0.1,fd00::/8", SWITCHYARD_PUSH_QUEUES: "a, b", SWITCHYARD_PUBLIC_URL: "https://sy.example.com", SWITCHYARD_SERVERS_REFRESH_MS: "250" }).servers;
    expect(c.refreshMs).toBe(250);
    expect(c.backendAllow).toEqual(["gpu.internal", "10.0.0.0/8", "127.0.0.1", "fd00::/8"]);
    expect(c.pushQueues).toEqual(["a", "b"]);
    expect(c.publicUrl).toBe("https://sy.example.com");
    let err: unknown;
    try {
      loadConfig({ SWITCHYARD_BACKEND_ALLOW: "http://x/, ok.host", SWITCHYARD_HEARTBEAT_TIMEOUT_MS: "5", SWITCHYARD_PUBLIC_URL: "ftp://x" });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    const problems = (err as ConfigError).problems.join("\n");
    expect(problems).toContain("SWITCHYARD_BACKEND_ALLOW");
    expect(problems).toContain("SWITCHYARD_HEARTBEAT_TIMEOUT_MS");
    expect(problems).toContain("SWITCHYARD_PUBLIC_URL");
  });
});
