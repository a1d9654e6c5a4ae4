// Builds the vbs command and the batch helper into plain JavaScript (no TypeScript at run time; the headless
// service is built with the Electron main by electron-vite, as out/main/headless.js):
// out/cli/vbs.js (the package's bin) and out/lib/batch.js. Run by `npm run build`.
import { build } from 'esbuild'
import fs from 'node:fs'
import path from 'node:path'
import { execFileSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'))
const common = { bundle: true, platform: 'node', target: 'node20', format: 'cjs', logLevel: 'warning', absWorkingDir: root }

await build({
  ...common,
  entryPoints: ['cli/vbs.ts'],
  outfile: 'out/cli/vbs.js',
  banner: { js: '#!/usr/bin/env node' },
  define: { VBS_VERSION: JSON.stringify(pkg.version) },
})
fs.chmodSync(path.join(root, 'out/cli/vbs.js'), 0o755)

// The batch helper: CommonJS for require() and import alike, with its declarations beside it.
await build({ ...common, entryPoints: ['lib/batch.ts'], outfile: 'out/lib/batch.js' })
execFileSync(process.execPath, [path.join(root, 'node_modules/typescript/bin/tsc'), 'lib/batch.ts', '--declaration', '--emitDeclarationOnly', '--outDir', 'out/lib',
  '--target', 'ES2022', '--module', 'ESNext', '--moduleResolution', 'bundler', '--lib', 'ES2023,DOM', '--skipLibCheck', '--strict', '--types', 'node'], { cwd: root, stdio: 'inherit' })
