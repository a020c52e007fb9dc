// Seed 004's operations routes moved to the claude-worker family folder.
export { operationsFamily, seed004Error } from "./claude-worker/operations.ts";
