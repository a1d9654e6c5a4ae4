import { once } from 'node:events'
import fs from 'node:fs'

/** Small pieces the benchmark scripts share. */

export const delay = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

/** Whether the promise settles within ms (it is not cancelled either way). */
export async function within(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<boolean>((resolve) => {
    timer = setTimeout(() => resolve(false), ms)
  })
  const done = await Promise.race([promise.then(() => true), timeout])
  clearTimeout(timer)
  return done
}

/** Keeps the last few KB a stream wrote, for error messages. */
export class Tail {
  private text = ''
  constructor(private readonly max = 8192) {}
  push(chunk: Buffer | string): void {
    this.text = (this.text + chunk.toString()).slice(-this.max)
  }
  toString(): string {
    return this.text.trim()
  }
}

/** An error's message with its causes (the SDK's "Connection error." hides the reason in `cause`). */
export function describeError(err: unknown): string {
  const parts: string[] = []
  for (let e: unknown = err, depth = 0; e !== undefined && e !== null && depth < 4; depth++) {
    parts.push(e instanceof Error ? e.message : String(e))
    e = e instanceof Error ? e.cause : undefined
  }
  return parts.join(' <- ')
}

/**
 * Ctrl-C and SIGTERM run the clean-up once, then exit 130. `on`, not `once`: Ctrl-C reaches the script twice
 * (from the terminal and relayed by the tsx CLI), and a second signal must not end it in the middle of the
 * clean-up.
 */
export function cleanUpOnSignals(cleanup: () => Promise<unknown>): void {
  let signalled = false
  const onSignal = (signal: NodeJS.Signals): void => {
    if (signalled) return
    signalled = true
    console.error(`${signal}: cleaning up`)
    void cleanup().finally(() => process.exit(130))
  }
  process.on('SIGINT', onSignal)
  process.on('SIGTERM', onSignal)
}

// ---------------------------------------------------------------------------------------------------
// Figures in tables
// ---------------------------------------------------------------------------------------------------

/** Decimal megabytes, as the targets are stated. */
export const MB = 1_000_000

/** A number with `digits` decimals, or 'n/a' when there is none. */
export const f = (n: number | null | undefined, digits = 1): string => (n === null || n === undefined || !Number.isFinite(n) ? 'n/a' : n.toFixed(digits))
/** A whole number with thousands separators. */
export const int = (n: number): string => n.toLocaleString('en-US')
export const verdict = (ok: boolean): string => (ok ? 'PASS' : 'MISS')

/** kB (as /proc gives them) in MB. */
export function mbOfKb(kb: number): number
export function mbOfKb(kb: number | null): number | null
export function mbOfKb(kb: number | null): number | null {
  return kb === null ? null : (kb * 1024) / MB
}

// ---------------------------------------------------------------------------------------------------
// Input files
// ---------------------------------------------------------------------------------------------------

/** Writes line(1) .. line(count) (each with its newline) to `file`, streamed in 1 MiB writes. Returns the bytes written. */
export async function writeLines(file: string, count: number, line: (i: number) => string): Promise<number> {
  const out = fs.createWriteStream(file)
  const failed = new Promise<never>((_, reject) => out.once('error', reject))
  failed.catch(() => undefined)
  let bytes = 0
  let buffer = ''
  for (let i = 1; i <= count; i++) {
    buffer += line(i)
    if (buffer.length >= 1 << 20 || i === count) {
      bytes += Buffer.byteLength(buffer)
      if (!out.write(buffer)) await Promise.race([once(out, 'drain'), failed])
      buffer = ''
    }
  }
  out.end()
  await Promise.race([once(out, 'finish'), failed])
  return bytes
}
