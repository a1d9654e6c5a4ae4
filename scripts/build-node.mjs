// Builds the vbs command and the batch helper into plain JavaScript (no TypeScript at run time; the headless
// service is built with the Electron main by electron-vite, as out/main/headless.js):
// out/cli/vbs.js (the package's bin) and out/lib/batch.js with its batch.d.ts. Run by `npm run build`.
// Every file is written beside its place and renamed into it, so a vbs that runs while another build writes
// (test files build in parallel) reads a whole file, old or new.
import { build } from 'esbuild'
import { execFileSync } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'))
const common = { bundle: true, platform: 'node', target: 'node20', format: 'cjs', logLevel: 'warning', absWorkingDir: root, write: false }

function put(file, contents, mode = 0o644) {
  fs.mkdirSync(path.dirname(file), { recursive: true })
  const tmp = `${file}.${process.pid}.tmp`
  fs.writeFileSync(tmp, contents, { mode })
  fs.renameSync(tmp, file)
}

const cli = await build({
  ...common,
  entryPoints: ['cli/vbs.ts'],
  outfile: 'out/cli/vbs.js',
  banner: { js: '#!/usr/bin/env node' },
  define: { VBS_VERSION: JSON.stringify(pkg.version) },
})
for (const f of cli.outputFiles) put(f.path, f.contents, 0o755)

// The batch helper: CommonJS for require() and import alike, with its declarations beside it.
const lib = await build({ ...common, entryPoints: ['lib/batch.ts'], outfile: 'out/lib/batch.js' })
for (const f of lib.outputFiles) put(f.path, f.contents)
const types = fs.mkdtempSync(path.join(os.tmpdir(), 'vbs-types-'))
try {
  execFileSync(process.execPath, [path.join(root, 'node_modules/typescript/bin/tsc'), 'lib/batch.ts', '--declaration', '--emitDeclarationOnly', '--outDir', types,
    '--target', 'ES2022', '--module', 'ESNext', '--moduleResolution', 'bundler', '--lib', 'ES2023,DOM', '--skipLibCheck', '--strict', '--types', 'node'], { cwd: root, stdio: 'inherit' })
  put(path.join(root, 'out/lib/batch.d.ts'), fs.readFileSync(path.join(types, 'batch.d.ts')))
} finally {
  fs.rmSync(types, { recursive: true, force: true })
}
