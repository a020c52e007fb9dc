import { defineConfig } from "vite";

// The dashboard is served by Switchyard itself under /ui; it imports the generated clients from
// ../gen, whose runtime imports must resolve to this folder's single copy of each library.
export default defineConfig({
  root: __dirname,
  base: "/ui/",
  esbuild: { jsx: "automatic" },
  resolve: { dedupe: ["@bufbuild/protobuf", "@connectrpc/connect", "@connectrpc/connect-web", "react", "react-dom", "@tanstack/react-query"] },
  server: { fs: { allow: [".."] } },
  build: {
    outDir: "dist",
    emptyOutDir: true,
    sourcemap: false,
    chunkSizeWarningLimit: 800,
    rollupOptions: {
      // React libraries mark modules "use client" for server components; meaningless in a bundle.
      onwarn(warning, warn) {
        if (warning.code !== "MODULE_LEVEL_DIRECTIVE") warn(warning);
      },
    },
  },
});
