// @switchyard/sdk — a client (browser-safe) and a worker for Switchyard's task API on connect-es.
// Transports: grpcTransport() from "@switchyard/sdk/node" (Node, Bun), or any Connect transport
// (createConnectTransport / createGrpcWebTransport from @connectrpc/connect-web in browsers).
export { SwitchyardClient, BATCH_LIMIT, type EnqueueOptions, type TaskSpec } from "./client.ts";
export { Worker, type Handler, type TaskContext, type WorkerOptions } from "./worker.ts";
export { SwitchyardError, TaskFailure, RetryableError, NonRetryableError, TRANSIENT } from "./errors.ts";
export { FINAL_STATES, taskInfo, type TaskEvent, type TaskInfo, type TaskStateName } from "./convert.ts";
export { bearer } from "./auth.ts";
