import { isIP } from "node:net";

/** `::ffff:127.0.0.1` → `127.0.0.1`: one spelling per address. */
export const normalizeAddress = (a: string): string => (a.startsWith("::ffff:") && isIP(a.slice(7)) === 4 ? a.slice(7) : a);

/**
 * The address a request comes from: the socket's, unless the socket is a trusted proxy — then
 * the nearest `X-Forwarded-For` hop that is not one (hops a client wrote itself are further
 * left, so it cannot choose its own key through a trusted proxy).
 */
export function clientAddress(socketAddress: string, forwardedFor: string | null, trusted: ReadonlySet<string>): string {
  const socket = normalizeAddress(socketAddress);
  if (trusted.size === 0 || !trusted.has(socket) || !forwardedFor) return socket;
  const hops = forwardedFor.split(",").map((h) => normalizeAddress(h.trim())).filter((h) => isIP(h) !== 0);
  for (let i = hops.length - 1; i >= 0; i--) if (!trusted.has(hops[i]!)) return hops[i]!;
  return hops[0] ?? socket;
}
