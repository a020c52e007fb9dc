import { defineConfig } from "drizzle-kit";

export default defineConfig({
  dialect: "sqlite",
  schema: "./src/servers/schema.ts",
  out: "./src/servers/migrations",
});
