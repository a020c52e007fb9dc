import { defineConfig } from "drizzle-kit";

export default defineConfig({
  dialect: "sqlite",
  schema: "./src/tasks/schema.ts",
  out: "./src/tasks/migrations",
});
