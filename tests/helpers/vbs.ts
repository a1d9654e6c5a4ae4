import { execFileSync, spawn, type ChildProcess } from 'node:child_process'
import path from 'node:path'
import { ROOT } from './service'

/** The built command, as `npx vbs` runs it (package.json `bin`). */
export const VBS = path.join(ROOT, 'out', 'cli', 'vbs.js')

/** Builds out/cli and out/lib from the sources (what `npm run build` does for them), so tests run the code as it is. */
export function buildCli(): void {
  execFileSync(process.execPath, [path.join(ROOT, 'scripts', 'build-node.mjs')], { cwd: ROOT, stdio: 'inherit' })
}

export interface VbsRun {
  child: ChildProcess
  stdout: () => string
  stderr: () => string
  /** Resolves with the exit code once the process has ended (bounded by the test's timeout). */
  exited: Promise<number | null>
  /** Resolves once stdout matches `pattern` (with the match), rejects if it exits first. */
  printed: (pattern: RegExp) => Promise<RegExpExecArray>
}

/**
 * Runs `vbs args` as a child process with only `env` (plus PATH and HOME): pipes, so stdout is not a terminal.
 */
export function startVbs(args: string[], env: Record<string, string>, options: { cwd?: string; stdin?: string } = {}): VbsRun {
  const child = spawn(process.execPath, [VBS, ...args], {
    cwd: options.cwd ?? ROOT,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env },
    stdio: ['pipe', 'pipe', 'pipe'],
  })
  let out = ''
  let err = ''
  const waiters: { pattern: RegExp; resolve: (m: RegExpExecArray) => void }[] = []
  child.stdout!.on('data', (d: Buffer) => {
    out += d.toString()
    for (const w of [...waiters]) {
      const m = w.pattern.exec(out)
      if (m) {
        waiters.splice(waiters.indexOf(w), 1)
        w.resolve(m)
      }
    }
  })
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()))
  child.stdin!.end(options.stdin ?? '')
  const exited = new Promise<number | null>((resolve) => child.once('close', (code) => resolve(code)))
  return {
    child,
    stdout: () => out,
    stderr: () => err,
    exited,
    printed: (pattern) =>
      new Promise((resolve, reject) => {
        const m = pattern.exec(out)
        if (m) return resolve(m)
        waiters.push({ pattern, resolve })
        void exited.then((code) => reject(new Error(`vbs exited (${code}) before printing ${pattern}:\n${out}\n${err}`)))
      }),
  }
}

/** Runs `vbs args` to its end: exit code, stdout, stderr. */
export async function vbs(args: string[], env: Record<string, string>, options: { cwd?: string; stdin?: string } = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const run = startVbs(args, env, options)
  const code = await run.exited
  return { code, stdout: run.stdout(), stderr: run.stderr() }
}
