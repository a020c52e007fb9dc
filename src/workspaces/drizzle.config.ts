import { defineConfig } from "drizzle-kit";

export default defineConfig({
  dialect: "sqlite",
  schema: "./src/workspaces/schema.ts",
  out: "./src/workspaces/migrations",
});
