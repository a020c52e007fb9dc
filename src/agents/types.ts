/** Plain types of the agents domain; service.ts maps them to and from switchyard.agents.v1. */

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
export type JsonObject = { [key: string]: Json };

export type SessionKind = "interactive" | "issue";
export type SessionState = "queued" | "processing" | "completed" | "failed" | "ended";
export const FINAL_STATES: ReadonlySet<SessionState> = new Set(["completed", "failed", "ended"]);
export const STATE_CODES: Record<SessionState, number> = { queued: 1, processing: 2, completed: 3, failed: 4, ended: 5 };
export const STATE_BY_CODE: SessionState[] = ["queued", "queued", "processing", "completed", "failed", "ended"];
export const KIND_CODES: Record<SessionKind, number> = { interactive: 1, issue: 2 };

export type PermissionMode = "default" | "acceptEdits" | "bypassPermissions" | "plan";

export interface Repository {
  url: string;
  /** `owner/repo` */
  name: string;
  branch: string;
}

export interface SessionOptions {
  maxTurns: number;
  permissionMode: PermissionMode;
  createPr: boolean;
}

export interface AgentSession {
  tenant: string;
  id: string;
  kind: SessionKind;
  state: SessionState;
  prompt: string;
  repository: Repository;
  options: SessionOptions;
  currentTurn: number;
  taskId: string;
  workerId: string;
  issueNumber: number;
  pullRequestUrl: string;
  lastSeq: number;
  tokensUsed: number;
  costUsd: number;
  createdAt: number;
  lastActivityAt: number;
  completedAt: number | undefined;
  errorMessage: string;
  baseUrl: string;
}

/** Seed 004's SSE event names; `connected` is per stream, never stored. */
export type SessionEventName = "connected" | "status" | "claude_start" | "claude_delta" | "claude_end" | "file_change" | "complete" | "error";
export const EVENT_NAMES: readonly SessionEventName[] = ["connected", "status", "claude_start", "claude_delta", "claude_end", "file_change", "complete", "error"];

/** One event: its name and its payload's fields (camelCase, as the proto payload's JSON). */
export interface SessionEvent {
  sessionId: string;
  /** From 1 without gaps; 0 for the per-stream `connected`. */
  seq: number;
  time: number;
  name: SessionEventName;
  data: JsonObject;
}

/** An event as a worker (or the server) reports it, before it has a sequence. */
export type NewSessionEvent = Pick<SessionEvent, "name" | "data"> & { time?: number };

/** Usage a worker reports since its previous report. */
export interface SessionUsage {
  inputTokens: number;
  outputTokens: number;
  costUsd: number;
}

/** The daily quota of a tenant, in seed 004's terms. */
export interface AgentQuota {
  dailyTokens: number;
  maxDailyTokens: number;
  remainingTokens: number;
  dailyCost: number;
  maxDailyCost: number;
  remainingCost: number;
  activeSessions: number;
  maxConcurrentSessions: number;
  allowed: boolean;
  reason: string;
  resetsAt: number;
}

export interface Page<T> {
  items: T[];
  nextPageToken: string;
}
