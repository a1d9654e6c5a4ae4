import { spawn, type ChildProcess } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { ROOT } from './service'
import { serveArgs } from './serve-command'

export interface ChildService {
  child: ChildProcess
  url: string
  output: () => string
  /** Resolves with the exit code (or the signal) once the process has ended. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>
}

/** Starts `npm run serve`'s command (as package.json has it) as a real child process. */
export function spawnServe(env: Record<string, string>): ChildService & { ready: Promise<string> } {
  const child = spawn(process.execPath, serveArgs(), {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', VBS_HOST: '127.0.0.1', VBS_PORT: '0', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let out = ''
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()))
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()))
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  )
  const ready = new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the service did not start within 60 s:\n${out}`)), 60_000)
    const check = (): void => {
      const m = /\(this machine: (http:\/\/[^)]+)\)/.exec(out)
      if (m) {
        clearTimeout(timer)
        resolve(m[1])
      }
    }
    child.stdout!.on('data', check)
    void exited.then(() => {
      clearTimeout(timer)
      reject(new Error(`the service exited before it was ready:\n${out}`))
    })
  })
  const result = { child, url: '', output: () => out, exited, ready }
  void ready.then((u) => (result.url = u)).catch(() => undefined)
  return result
}

export function readKey(dataDir: string): string {
  return fs.readFileSync(path.join(dataDir, 'api-key'), 'utf8').trim()
}
