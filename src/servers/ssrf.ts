import { lookup } from "node:dns/promises";
import ipaddr from "ipaddr.js";
import { AppError } from "../core/errors.ts";

/**
 * The SSRF guard for backend endpoints: http(s) URLs only, no credentials in them, and every
 * address a host resolves to outside loopback, private, link-local (cloud metadata), CGNAT,
 * multicast and reserved ranges — unless the host or its address is on the allow-list
 * (`SWITCHYARD_BACKEND_ALLOW`: host names, addresses, CIDRs). Redirects are checked the same
 * way by the caller before they are followed.
 */
export interface UrlGuard {
  /** Checks syntax and a literal address at once (registration): throws invalid_argument. */
  checkSyntax(field: string, url: string): URL;
  /**
   * Full check, resolving the host: answers why it is refused, or undefined when allowed. A
   * host that does not resolve is refused, unless `unresolvable` is "allow" (registration:
   * DNS may not be there yet; every call checks again).
   */
  refusal(url: string, options?: { unresolvable?: "refuse" | "allow" }): Promise<string | undefined>;
}

/** Host names that reach cloud metadata services whatever they resolve to. */
const METADATA_HOSTS = new Set(["metadata", "metadata.google.internal", "metadata.goog", "instance-data", "instance-data.ec2.internal", "metadata.azure.com"]);

/** Ranges ipaddr.js names that a backend may not point into unless allowed. */
const REFUSED_RANGES = new Set([
  "unspecified",
  "broadcast",
  "multicast",
  "linkLocal",
  "loopback",
  "carrierGradeNat",
  "private",
  "reserved",
  "uniqueLocal",
  "ipv4Mapped",
  "rfc6145",
  "rfc6052",
  "6to4",
  "teredo",
  "benchmarking",
  "amt",
  "as112",
  "deprecated",
  "orchid2",
  "droneRemoteIdProtocolEntityTags",
]);

type Address = ipaddr.IPv4 | ipaddr.IPv6;

export function createUrlGuard(allow: string[], resolve: (host: string) => Promise<string[]> = resolveAll): UrlGuard {
  const allowHosts = new Set<string>();
  const allowCidrs: [Address, number][] = [];
  for (const a of allow) {
    if (a.includes("/")) allowCidrs.push(ipaddr.parseCIDR(a));
    else if (ipaddr.isValid(a)) allowCidrs.push([ipaddr.parse(a), ipaddr.parse(a).kind() === "ipv4" ? 32 : 128]);
    else allowHosts.add(a.toLowerCase());
  }

  const allowedAddress = (addr: Address): boolean =>
    allowCidrs.some(([net, bits]) => {
      const a = addr.kind() === "ipv6" && (addr as ipaddr.IPv6).isIPv4MappedAddress() && net.kind() === "ipv4" ? (addr as ipaddr.IPv6).toIPv4Address() : addr;
      return a.kind() === net.kind() && a.match(net, bits);
    });

  /** Why an address is refused, or undefined. IPv4 inside IPv6 forms is judged as IPv4. */
  function addressRefusal(addr: Address): string | undefined {
    if (allowedAddress(addr)) return undefined;
    let a: Address = addr;
    if (a.kind() === "ipv6") {
      const v6 = a as ipaddr.IPv6;
      if (v6.isIPv4MappedAddress()) a = v6.toIPv4Address();
      else {
        const r = v6.range();
        if (r === "rfc6052" || r === "rfc6145" || r === "6to4" || r === "teredo") return `address ${addr.toString()} embeds an IPv4 address (${r})`;
      }
      if (a !== addr && allowedAddress(a)) return undefined;
    }
    const range = a.range();
    if (REFUSED_RANGES.has(range)) return `address ${a.toString()} is ${range === "linkLocal" ? "link-local (cloud metadata lives there)" : range}`;
    return undefined;
  }

  function parse(field: string, raw: string): URL {
    let u: URL;
    try {
      u = new URL(raw);
    } catch {
      throw invalid(field, "is not a URL");
    }
    if (u.protocol !== "http:" && u.protocol !== "https:") throw invalid(field, "must be an http or https URL");
    if (u.username || u.password) throw invalid(field, "must not carry credentials");
    if (!u.hostname) throw invalid(field, "has no host");
    return u;
  }

  const bare = (host: string) => host.replace(/^\[|\]$/g, "").toLowerCase().replace(/\.$/, "");

  function literalRefusal(u: URL): string | undefined {
    const host = bare(u.hostname);
    if (allowHosts.has(host)) return undefined;
    if (METADATA_HOSTS.has(host)) return `host ${host} is a cloud metadata service`;
    if (ipaddr.isValid(host)) return addressRefusal(ipaddr.parse(host));
    if (host === "localhost" || host.endsWith(".localhost")) return `host ${host} is loopback`;
    return undefined;
  }

  return {
    checkSyntax(field, raw) {
      const u = parse(field, raw);
      const why = literalRefusal(u);
      if (why) throw new AppError("invalid_argument", "ENDPOINT_NOT_ALLOWED", `${field}: ${why}; allow it with SWITCHYARD_BACKEND_ALLOW`, { field });
      return u;
    },
    async refusal(raw, options) {
      let u: URL;
      try {
        u = parse("url", raw);
      } catch (e) {
        return (e as Error).message;
      }
      const host = bare(u.hostname);
      if (allowHosts.has(host)) return undefined;
      const literal = literalRefusal(u);
      if (literal || ipaddr.isValid(host)) return literal;
      let addresses: string[];
      try {
        addresses = await resolve(host);
      } catch (e) {
        return options?.unresolvable === "allow" ? undefined : `host ${host} does not resolve: ${(e as Error).message}`;
      }
      if (addresses.length === 0) return options?.unresolvable === "allow" ? undefined : `host ${host} does not resolve`;
      for (const a of addresses) {
        const why = addressRefusal(ipaddr.parse(a));
        if (why) return `host ${host} resolves to ${why.replace(/^address /, "")}`;
      }
      return undefined;
    },
  };
}

async function resolveAll(host: string): Promise<string[]> {
  return (await lookup(host, { all: true, verbatim: true })).map((r) => r.address);
}

function invalid(field: string, message: string): AppError {
  return new AppError("invalid_argument", "INVALID_ARGUMENT", `${field}: ${message}`, { field });
}
