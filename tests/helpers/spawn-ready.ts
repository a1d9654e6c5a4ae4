import { spawn, type ChildProcess } from 'node:child_process'

export interface ReadyChild {
  child: ChildProcess
  /** Everything it printed so far, stdout and stderr. */
  output: () => string
  /** Resolves with the exit code (or the signal) once the process has ended. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>
  /** Resolves with the first group of `ready.pattern` once the child printed it; rejects if it exits first or times out. */
  ready: Promise<string>
}

/** Starts a real child process and waits (bounded) for the line that says it serves: no sleeps. */
export function spawnReady(
  bin: string,
  args: string[],
  options: { cwd: string; env: NodeJS.ProcessEnv },
  ready: { pattern: RegExp; what: string; timeoutMs: number },
): ReadyChild {
  const child = spawn(bin, args, { ...options, stdio: ['ignore', 'pipe', 'pipe'] })
  let out = ''
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()))
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()))
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  )
  const readyLine = new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${ready.what} was not ready within ${ready.timeoutMs / 1000} s:\n${out}`)), ready.timeoutMs)
    child.stdout!.on('data', () => {
      const m = ready.pattern.exec(out)
      if (m) {
        clearTimeout(timer)
        resolve(m[1])
      }
    })
    void exited.then(({ code, signal }) => {
      clearTimeout(timer)
      reject(new Error(`${ready.what} exited (${code ?? signal}) before it was ready:\n${out}`))
    })
  })
  readyLine.catch(() => undefined)
  return { child, output: () => out, exited, ready: readyLine }
}
