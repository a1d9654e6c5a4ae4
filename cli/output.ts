import type { Job } from '../main/contract/jobs'
import { progressLine } from './progress'

/** Seconds between two plain progress lines that say nothing new but the counts (VBS_PROGRESS_INTERVAL_S). */
const PLAIN_INTERVAL_S = 10

/**
 * Where `vbs` writes: results and messages on stdout (only JSON there with --json, the messages then go to
 * stderr), errors on stderr. On a terminal progress is one line redrawn with a bar; otherwise a plain line per
 * change (status, chunk, hold) and at most one every VBS_PROGRESS_INTERVAL_S seconds between them.
 */
export class Output {
  readonly json: boolean
  readonly tty: boolean
  private readonly intervalMs: number
  private drawn = false
  private lastPlain = { key: '', line: '', at: 0 }
  private lastDraw = 0

  constructor(
    options: { json: boolean },
    private readonly stdout: NodeJS.WriteStream = process.stdout,
    private readonly stderr: NodeJS.WriteStream = process.stderr,
    env: NodeJS.ProcessEnv = process.env,
  ) {
    this.json = options.json
    this.tty = Boolean(stdout.isTTY) && !options.json
    const s = Number(env.VBS_PROGRESS_INTERVAL_S)
    this.intervalMs = (Number.isFinite(s) && s >= 0 && env.VBS_PROGRESS_INTERVAL_S !== '' && env.VBS_PROGRESS_INTERVAL_S !== undefined ? s : PLAIN_INTERVAL_S) * 1000
  }

  /** A message for a person: stdout, or stderr when stdout carries JSON. */
  say(text: string): void {
    this.endLine()
    ;(this.json ? this.stderr : this.stdout).write(`${text}\n`)
  }

  /** The command's result: JSON with --json, else the text. */
  result(value: unknown, text: () => string): void {
    this.endLine()
    if (this.json) this.stdout.write(`${JSON.stringify(value, null, 2)}\n`)
    else this.stdout.write(`${text()}\n`)
  }

  /** A remark beside the data (stderr), e.g. what `make` wrote on stdout. */
  note(text: string): void {
    this.endLine()
    this.stderr.write(`${text}\n`)
  }

  error(text: string): void {
    this.endLine()
    this.stderr.write(`vbs: ${text}\n`)
  }

  /** Progress of a byte count (an upload or a download): a redrawn bar on a terminal, nothing otherwise. */
  transfer(label: string, done: number, total: number, bytesText: (n: number) => string): void {
    if (!this.tty) return
    const now = Date.now()
    if (done < total && now - this.lastDraw < 100) return
    this.lastDraw = now
    const pct = total > 0 ? Math.floor((done / total) * 100) : 100
    const cells = 24
    const full = Math.round((pct / 100) * cells)
    this.draw(`${label} [${'#'.repeat(full)}${'-'.repeat(cells - full)}] ${pct}% ${bytesText(done)} of ${bytesText(total)}`)
  }

  /** A job's progress. */
  job(job: Job): void {
    if (this.tty) {
      const now = Date.now()
      if (now - this.lastDraw < 100) return
      this.lastDraw = now
      this.draw(progressLine(job, { bar: true }))
      return
    }
    const p = job.progress
    const key = [job.status, job.status_detail, p?.chunk, (job.hold ?? p?.hold)?.kind].join('|')
    const line = progressLine(job)
    const now = Date.now()
    if (line === this.lastPlain.line) return
    if (key === this.lastPlain.key && now - this.lastPlain.at < this.intervalMs) return
    this.lastPlain = { key, line, at: now }
    ;(this.json ? this.stderr : this.stdout).write(`${line}\n`)
  }

  private draw(line: string): void {
    const width = this.stdout.columns || 120
    const chars = [...line]
    this.stdout.write(`\r\x1b[2K${chars.length >= width ? chars.slice(0, width - 1).join('') : line}`)
    this.drawn = true
  }

  /** Ends a redrawn line so that the next text starts on its own. */
  endLine(): void {
    if (this.drawn) this.stdout.write('\n')
    this.drawn = false
  }
}
