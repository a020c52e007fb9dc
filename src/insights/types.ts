/** Plain domain types of the insights domain (no protobuf). Times are epoch milliseconds. */

export type CallStatus = "pending" | "done" | "failed";

/** A task-backed call's record. */
export interface Call {
  tenant: string;
  taskId: string;
  type: string;
  subject: string;
  status: CallStatus;
  output: unknown;
  error: { reason: string; message: string } | undefined;
  createdAt: number;
  finishedAt: number | undefined;
}

export interface NextStep {
  id: string;
  projectId: string;
  title: string;
  description: string;
  rationale: string;
  priority: string;
  category: string;
  status: string;
  helpful: boolean | undefined;
  taskId: string;
  createdAt: number;
  updatedAt: number;
}

export interface Decision {
  id: string;
  projectId: string;
  title: string;
  decision: string;
  rationale: string;
  conversationId: string;
  messageId: string;
  concepts: string[];
  taskId: string;
  createdAt: number;
}

export interface Conversation {
  id: string;
  projectId: string;
  workspaceId: string;
  title: string;
  manifestHash: string;
  status: string;
  clearedAt: number;
  lastSeq: number;
  createdAt: number;
  updatedAt: number;
}

export interface Message {
  id: string;
  conversationId: string;
  seq: number;
  role: string;
  content: string;
  status: string;
  error: string;
  changedFiles: string[];
  taskId: string;
  createdAt: number;
  completedAt: number | undefined;
}

/** Event types of a conversation (the proto's names without prefix, lower case). */
export type ConversationEventType = "message_created" | "message_delta" | "message_completed" | "files_changed" | "question_asked" | "question_resolved" | "cleared" | "conversation_updated";

/** A question an agent asked during a turn: `questions` `[{ question, options? }]`. */
export interface Question {
  conversationId: string;
  id: string;
  messageId: string;
  taskId: string;
  questions: { question: string; options?: string[] }[];
  status: string;
  answers: string[][] | undefined;
  createdAt: number;
}

export interface ConversationEvent {
  conversationId: string;
  sequence: number;
  type: ConversationEventType;
  messageId: string;
  data: Record<string, unknown>;
  createdAt: number;
}

/** An action item found by analysis (persisted; drift and deployment items are derived). */
export interface AnalysisItem {
  id: string;
  type: string;
  severity: string;
  workspaceId: string;
  projectId: string;
  title: string;
  description: string;
  files: string[];
  createdAt: number;
}

/** An action item as listed (any kind). */
export interface ActionItem extends AnalysisItem {
  actionLabel: string;
  actionType: string;
  actionData: Record<string, unknown>;
  latestRunId: string;
}

export interface Run {
  id: string;
  itemId: string;
  workspaceId: string;
  status: string;
  attemptCount: number;
  maxAttempts: number;
  result: { summary: string; report: string; patch: string; checks: { name: string; status: string; output: string }[]; files: { path: string; content: string | null }[] } | undefined;
  error: string;
  baseManifestHash: string;
  resultManifestHash: string;
  taskId: string;
  createdAt: number;
  updatedAt: number;
  completedAt: number | undefined;
}

export interface Credential {
  id: string;
  provider: string;
  userId: string;
  sealed: string;
  metadata: Record<string, unknown>;
  createdAt: number;
  updatedAt: number;
}

export interface DeploySettings {
  workspaceId: string;
  autoDeploy: boolean;
  runtimeOverride: string;
  buildCommand: string;
  startCommand: string;
  updatedAt: number;
}

export interface Deployment {
  id: string;
  workspaceId: string;
  projectId: string;
  snapshotId: string;
  status: string;
  trigger: string;
  url: string;
  error: string;
  conversationId: string;
  taskId: string;
  tasks: { detect: string; provision: string; deploy: string };
  startedAt: number;
  completedAt: number | undefined;
}

export interface Resource {
  id: string;
  projectId: string;
  type: string;
  provider: string;
  name: string;
  status: string;
  providerResourceId: string;
  sealedConnection: string;
  envVarKeys: string[];
  createdAt: number;
  updatedAt: number;
}

export interface Concept {
  id: string;
  name: string;
  description: string;
  /** `system`, `module`, `code` or `decision`. */
  layer: string;
  path: string;
  parentId: string;
  updatedAt: number;
}

export interface Edge {
  id: string;
  sourceId: string;
  targetId: string;
  /** `contains`, `depends_on` or `decided_by`. */
  type: string;
  weight: number;
}

export interface Diagram {
  id: string;
  projectId: string;
  conceptId: string;
  type: string;
  title: string;
  nodes: { id: string; label: string; concept_id?: string; group?: string }[];
  edges: { source: string; target: string; label?: string }[];
  taskId: string;
  createdAt: number;
}

/** A periodic task (see schedules.ts). */
export interface Schedule {
  tenant: string;
  id: string;
  name: string;
  cron: string;
  queue: string;
  type: string;
  payload: unknown;
  paused: boolean;
  nextRunAt: number | undefined;
  lastRunAt: number | undefined;
  lastTaskId: string;
  runCount: number;
  createdAt: number;
  /** A tick claimed by a pass that has not recorded it yet, and until when the claim holds. */
  claimedTick?: number;
  claimedUntil?: number;
}
