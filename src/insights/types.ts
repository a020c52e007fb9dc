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
export type ConversationEventType = "message_created" | "message_delta" | "message_completed" | "files_changed" | "cleared" | "conversation_updated";

export interface ConversationEvent {
  conversationId: string;
  sequence: number;
  type: ConversationEventType;
  messageId: string;
  data: Record<string, unknown>;
  createdAt: number;
}
