import { resolve } from 'node:path'
import { defineConfig } from 'electron-vite'
import react from '@vitejs/plugin-react'

// Runtime dependencies (better-sqlite3, koa, pino, ...) stay external in the main build: electron-vite's
// build.externalizeDeps is on by default and externalizes everything in package.json "dependencies".
export default defineConfig({
  main: {
    build: {
      outDir: resolve(__dirname, 'out/main'),
      rolldownOptions: {
        // The llama.cpp engine runs as a child process of its own (a native crash must not take the app down);
        // headless is the service without Electron (`npm run serve`, the systemd unit of `vbs service install`).
        input: {
          index: resolve(__dirname, 'main/index.ts'),
          'llama-server': resolve(__dirname, 'main/engine/llama-server/main.ts'),
          headless: resolve(__dirname, 'main/headless.ts'),
        },
      },
    },
  },
  preload: {
    build: {
      outDir: resolve(__dirname, 'out/preload'),
      rolldownOptions: {
        input: { index: resolve(__dirname, 'preload/index.ts') },
        // A sandboxed preload cannot be an ES module.
        output: { format: 'cjs' },
      },
    },
  },
  renderer: {
    root: resolve(__dirname, 'renderer'),
    plugins: [react()],
    build: {
      outDir: resolve(__dirname, 'out/renderer'),
      // Served over the LAN too: ship it small.
      minify: true,
      rolldownOptions: {
        input: { index: resolve(__dirname, 'renderer/index.html') },
      },
    },
  },
})
