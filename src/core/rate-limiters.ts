import type * as Flexible from "rate-limiter-flexible";

/**
 * The rate limiters Switchyard uses, loaded from their own files: the package's index requires
 * every store it supports (Redis, Mongo, MySQL, Dynamo, Prisma, etc., ~45 modules), ~15 ms and a few MB
 * of a cold start for nothing (bun bench/startup.ts). The types are the package's own.
 */
export const RateLimiterMemory: typeof Flexible.RateLimiterMemory = require("rate-limiter-flexible/lib/RateLimiterMemory");
export const RateLimiterRes: typeof Flexible.RateLimiterRes = require("rate-limiter-flexible/lib/RateLimiterRes");
export type RateLimiterAbstract = Flexible.RateLimiterAbstract;
export type RateLimiterMemory = Flexible.RateLimiterMemory;
export type RateLimiterRes = Flexible.RateLimiterRes;

/** RateLimiterPostgres, only loaded when a PostgreSQL store asks for it. */
export const loadRateLimiterPostgres = (): typeof Flexible.RateLimiterPostgres => require("rate-limiter-flexible/lib/RateLimiterPostgres");
