import { execFileSync } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { describe, expect, it } from 'vitest'

// main/batch/wasm/plain-run.ts carries the module as bytes; plain-run.wat is its source. Where wabt's wat2wasm is
// installed (Debian: apt-get install wabt), the bytes are checked to be that source's, so the two cannot drift.
const WAT = path.join(__dirname, '..', '..', 'main', 'batch', 'wasm', 'plain-run.wat')
const TS = path.join(__dirname, '..', '..', 'main', 'batch', 'wasm', 'plain-run.ts')

function wat2wasm(): string | null {
  try {
    execFileSync('wat2wasm', ['--version'], { stdio: 'ignore' })
    return 'wat2wasm'
  } catch {
    return null
  }
}

describe('the plain-run WebAssembly module', () => {
  const tool = wat2wasm()
  it.skipIf(tool === null)('is plain-run.wat assembled (skipped where wabt\'s wat2wasm is not installed)', () => {
    const out = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'vbs-wasm-')), 'plain-run.wasm')
    execFileSync(tool!, [WAT, '-o', out])
    const embedded = /const WASM_BASE64 = '([A-Za-z0-9+/=]+)'/.exec(fs.readFileSync(TS, 'utf8'))?.[1]
    expect(embedded).toBe(fs.readFileSync(out).toString('base64'))
  })
})
