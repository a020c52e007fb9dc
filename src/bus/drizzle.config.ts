import { defineConfig } from "drizzle-kit";

export default defineConfig({
  dialect: "sqlite",
  schema: "./src/bus/schema.ts",
  out: "./src/bus/migrations",
});
