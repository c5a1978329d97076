import { defineConfig } from "vitest/config";

// Built into ui/dist, which tauri.conf.json's frontendDist embeds into the app.
export default defineConfig({
  base: "./",
  build: { outDir: "dist", emptyOutDir: true, target: "safari15", sourcemap: false },
  test: { environment: "jsdom", include: ["test/**/*.test.ts"] },
});
