import { defineConfig } from "drizzle-kit";

export default defineConfig({
  dialect: "sqlite",
  schema: "./src/insights/schema.ts",
  out: "./src/insights/migrations",
});
