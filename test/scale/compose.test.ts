// compose.yaml (the scaled-out deployment) cannot be started here (no container engine), so its
// contract with the server is checked instead: every variable it sets is one the server knows and
// accepts, it names the engines PostgreSQL mode needs, and the balancer reaches the instances.
import { describe, expect, it } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parse } from "yaml";
import { VARIABLES, loadConfig } from "../../src/config.ts";
import { repoRoot } from "../../src/testing/server.ts";

const compose = parse(readFileSync(join(repoRoot, "compose.yaml"), "utf8"));
const envoy = parse(readFileSync(join(repoRoot, "deploy", "envoy.yaml"), "utf8"));

describe("compose.yaml", () => {
  const env: Record<string, string> = compose.services.switchyard.environment;

  it("sets only variables the server knows, with values it accepts", () => {
    for (const name of Object.keys(env)) expect(Object.keys(VARIABLES)).toContain(name);
    const resolved = Object.fromEntries(Object.entries(env).map(([k, v]) => [k, String(v).replace(/\$\{SWITCHYARD_SECRET_KEY[^}]*\}/, "cd".repeat(32))]));
    const config = loadConfig({ ...resolved, SWITCHYARD_DATA_DIR: "/tmp/switchyard-compose-check" });
    expect(config.databaseUrl).toMatch(/^postgres:\/\/.+@postgres:5432\//);
    expect(config.natsUrl).toBe("nats://nats:4222");
    expect(config.qdrantUrl).toBe("http://qdrant:6333");
  });

  it("runs three instances on the engines it defines, with a shared blob volume and a required secret key", () => {
    expect(compose.services.switchyard.deploy.replicas).toBe(3);
    for (const engine of ["postgres", "nats", "qdrant"]) expect(Object.keys(compose.services)).toContain(engine);
    expect(compose.services.switchyard.volumes).toContain("blobs:/data");
    expect(env.SWITCHYARD_SECRET_KEY).toContain(":?");
  });

  it("balances over HTTP/2 to the instances' port without stream timeouts", () => {
    const cluster = envoy.static_resources.clusters[0];
    expect(cluster.load_assignment.endpoints[0].lb_endpoints[0].endpoint.address.socket_address).toEqual({ address: "switchyard", port_value: 8080 });
    expect(cluster.typed_extension_protocol_options["envoy.extensions.upstreams.http.v3.HttpProtocolOptions"].explicit_http_config).toHaveProperty("http2_protocol_options");
    const hcm = envoy.static_resources.listeners[0].filter_chains[0].filters[0].typed_config;
    expect(hcm.stream_idle_timeout).toBe("0s");
    expect(hcm.route_config.virtual_hosts[0].routes[0].route.timeout).toBe("0s");
  });
});
