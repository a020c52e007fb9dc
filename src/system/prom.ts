import type * as Prom from "prom-client";

/**
 * prom-client's metric classes, loaded from their own files. The package's index also loads the
 * push gateway (node:http, node:https), the cluster aggregator (node:cluster) and the default
 * process metrics, which require @opentelemetry/api for exemplars: none of which Switchyard uses,
 * and which made `import "prom-client"` cost ~90 ms and ~10 MB of a cold start (bun
 * bench/startup.ts). The types are the package's own.
 */
export const Registry: typeof Prom.Registry = require("prom-client/lib/registry");
export const Counter: typeof Prom.Counter = require("prom-client/lib/counter");
export const Gauge: typeof Prom.Gauge = require("prom-client/lib/gauge");
export const Histogram: typeof Prom.Histogram = require("prom-client/lib/histogram");
export type Registry = Prom.Registry;
export type Counter<T extends string = string> = Prom.Counter<T>;
export type Gauge<T extends string = string> = Prom.Gauge<T>;
export type Histogram<T extends string = string> = Prom.Histogram<T>;
