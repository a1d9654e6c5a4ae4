// `npm run serve` runs this first (npm's `preserve`): it builds what the headless service needs and is not there
// yet (out/main/headless.js with its llama.cpp child, the dashboard, the vbs command), so that a fresh clone needs
// `npm ci` and `npm run serve` only. A build that exists is used as it is: after changing the sources, npm run build.
import { execFileSync } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
const missing = (files) => files.filter((f) => !fs.existsSync(path.join(root, f)))

const electronVite = missing(['out/main/headless.js', 'out/main/llama-server.js', 'out/renderer/index.html'])
if (electronVite.length > 0) {
  console.log(`building the service and the dashboard (missing: ${electronVite.join(', ')}) ...`)
  execFileSync(process.execPath, [path.join(root, 'node_modules', 'electron-vite', 'bin', 'electron-vite.js'), 'build'], { cwd: root, stdio: 'inherit' })
}
const node = missing(['out/cli/vbs.js', 'out/lib/batch.js'])
if (node.length > 0) {
  console.log(`building vbs and the batch helper (missing: ${node.join(', ')}) ...`)
  execFileSync(process.execPath, [path.join(root, 'scripts', 'build-node.mjs')], { cwd: root, stdio: 'inherit' })
}
