/**
 * The preview of a batch input file, computed in the browser before anything is uploaded: how many lines,
 * which endpoint and model, and the first problems with their line numbers. The file is streamed: every line
 * is counted, but only the first PREVIEW_CHECK_LINES are decoded and checked, so a 100 MB file is never held
 * as one string. The service validates the whole file again when the batch is created; this is a quick look.
 *
 * The checks are the service's own (main/contract/batch-line.ts), so a line gets the problem, in the words,
 * that the service would give it: one per line, the first found. What only the service knows it checks alone:
 * which models are in models.yaml (the window compares `models` with the registry it shows), the request limit.
 */

import {
  BatchLineRules,
  EMPTY_FILE,
  isBatchEndpoint,
  isBlankLine,
  lineTooLarge,
  notUtf8,
  parseLine,
  urlProblem,
  type LineProblem,
} from '../../main/contract/batch-line'

/** Lines decoded and checked; the rest are only counted. */
export const PREVIEW_CHECK_LINES = 2000
/** Problems listed; the rest are counted. */
export const PREVIEW_MAX_PROBLEMS = 20
/** A line longer than this is not decoded (the service's default limit per line is 16 MiB). */
export const PREVIEW_MAX_LINE_BYTES = 16 * 1024 * 1024

export interface PreviewProblem {
  /** 1-based line number, or null for a problem with the file as a whole. */
  line: number | null
  message: string
}

export interface JsonlPreview {
  /** Non-blank lines: the requests (blank lines are skipped, as the service does). */
  lines: number
  blankLines: number
  bytes: number
  /** Lines decoded and checked (at most PREVIEW_CHECK_LINES). */
  checkedLines: number
  /** The lines' url, from the first line that names a batch endpoint: the batch is created with it. */
  endpoint: string | null
  /** Every model named in the checked lines, first seen first. */
  models: string[]
  problems: PreviewProblem[]
  /** Problems found beyond the listed ones. */
  moreProblems: number
}

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v)

/** Space, tab, CR: what a blank line may hold. */
const isBlankByte = (b: number): boolean => b === 0x20 || b === 0x09 || b === 0x0d

/** A listed problem, and for a bad url seen before any line named the endpoint, that url. */
interface Listed {
  problem: LineProblem
  url?: unknown
}

export interface PreviewOptions {
  /**
   * The registry id a model name stands for (id or alias), or undefined if it is not in models.yaml. Without
   * it, names are compared as written and unknown ones are left to the window's registry check.
   */
  resolveModel?: (name: string) => string | undefined
}

/** Feed it the file's bytes in chunks of any size, then call finish(). Pure. */
export class JsonlScanner {
  private readonly decoder = new TextDecoder('utf-8', { fatal: true })
  /** The endpoint is not known up front: it is the first line's that names one (see note()). */
  private readonly rules: BatchLineRules
  private lineNo = 0
  private lines = 0
  private blankLines = 0
  private bytes = 0
  private checkedLines = 0
  /** The current line's bytes, kept only while it is one of the lines to check. */
  private pending: Uint8Array[] = []
  private pendingBytes = 0
  /** The current line's length so far, while checking (named when it is too long). */
  private lineBytes = 0
  private tooLong = false
  private hasContent = false
  private readonly models = new Set<string>()
  private readonly listed: Listed[] = []
  private moreProblems = 0

  constructor(options: PreviewOptions = {}) {
    this.rules = new BatchLineRules({ endpoint: null, resolveModel: options.resolveModel })
  }

  push(chunk: Uint8Array): void {
    this.bytes += chunk.length
    let start = 0
    while (start <= chunk.length) {
      const nl = chunk.indexOf(0x0a, start)
      const end = nl === -1 ? chunk.length : nl
      this.take(chunk, start, end)
      if (nl === -1) break
      this.endLine()
      start = nl + 1
    }
  }

  finish(fileName?: string): JsonlPreview {
    if (this.pendingBytes > 0 || this.tooLong || this.hasContent) this.endLine()
    const fileProblems: PreviewProblem[] = []
    if (fileName !== undefined && !/\.jsonl$/i.test(fileName)) {
      fileProblems.push({ line: null, message: `the file name must end in .jsonl (got '${fileName}')` })
    }
    if (this.lines === 0) fileProblems.push({ line: null, message: EMPTY_FILE.message })
    const endpoint = this.rules.endpoint
    const problems = this.listed.map(({ problem, url }): PreviewProblem => {
      // Checked before a line named the endpoint: now that it is known, say it as the service will.
      const p = url !== undefined && endpoint !== null ? urlProblem(problem.line, url, endpoint) : problem
      return { line: p.line, message: p.detail }
    })
    return {
      lines: this.lines,
      blankLines: this.blankLines,
      bytes: this.bytes,
      checkedLines: this.checkedLines,
      endpoint,
      models: [...this.models],
      problems: [...fileProblems, ...problems],
      moreProblems: this.moreProblems,
    }
  }

  private get checking(): boolean {
    return this.lineNo < PREVIEW_CHECK_LINES
  }

  private take(chunk: Uint8Array, start: number, end: number): void {
    if (start === end) return
    if (this.checking) {
      this.lineBytes += end - start
      if (this.tooLong) return
      if (this.pendingBytes + (end - start) > PREVIEW_MAX_LINE_BYTES) {
        this.tooLong = true
        this.pending = []
        this.pendingBytes = 0
        return
      }
      // Copy: the stream may reuse its chunk's memory.
      this.pending.push(chunk.slice(start, end))
      this.pendingBytes += end - start
      return
    }
    if (this.hasContent) return
    for (let i = start; i < end; i++) {
      if (!isBlankByte(chunk[i])) {
        this.hasContent = true
        return
      }
    }
  }

  private endLine(): void {
    this.lineNo += 1
    const line = this.lineNo
    if (line <= PREVIEW_CHECK_LINES) {
      const tooLong = this.tooLong
      const length = this.lineBytes
      const parts = this.pending
      this.pending = []
      this.pendingBytes = 0
      this.lineBytes = 0
      this.tooLong = false
      if (tooLong) {
        this.lines += 1
        this.checkedLines += 1
        this.problem(lineTooLarge(line, length, PREVIEW_MAX_LINE_BYTES))
        return
      }
      let text: string
      try {
        text = this.decoder.decode(concat(parts))
      } catch {
        this.lines += 1
        this.checkedLines += 1
        this.problem(notUtf8(line))
        return
      }
      if (isBlankLine(text)) {
        this.blankLines += 1
        return
      }
      this.lines += 1
      this.checkedLines += 1
      this.check(line, text)
      return
    }
    if (this.hasContent) this.lines += 1
    else this.blankLines += 1
    this.hasContent = false
  }

  private problem(problem: LineProblem, url?: unknown): void {
    if (this.listed.length < PREVIEW_MAX_PROBLEMS) this.listed.push(url === undefined ? { problem } : { problem, url })
    else this.moreProblems += 1
  }

  private check(line: number, text: string): void {
    const parsed = parseLine(line, text)
    if (!parsed.ok) {
      this.problem(parsed.problem)
      return
    }
    this.note(parsed.fields)
    const endpointKnown = this.rules.endpoint !== null
    const verdict = this.rules.check(line, parsed.fields)
    if (verdict.ok) this.rules.admit(line, verdict.customId)
    else if (verdict.problem.code === 'invalid_url' && !endpointKnown) this.problem(verdict.problem, parsed.fields.url)
    else this.problem(verdict.problem)
  }

  /**
   * What the preview shows beyond problems, from any parsed line, good or bad: the endpoint (the first url
   * that is a batch endpoint; the batch is created with it, so the rules then hold every line to it) and the
   * models named.
   */
  private note(fields: Readonly<Record<string, unknown>>): void {
    if (this.rules.endpoint === null && isBatchEndpoint(fields.url)) this.rules.endpoint = fields.url
    const body = fields.body
    if (isRecord(body) && typeof body.model === 'string' && body.model !== '') this.models.add(body.model)
  }
}

function concat(parts: Uint8Array[]): Uint8Array {
  if (parts.length === 1) return parts[0]
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0))
  let at = 0
  for (const p of parts) {
    out.set(p, at)
    at += p.length
  }
  return out
}

/** Streams a File (or any Blob) through the scanner. Rejects with an AbortError when `signal` aborts. */
export async function previewJsonl(file: Blob & { name?: string }, signal?: AbortSignal, options?: PreviewOptions): Promise<JsonlPreview> {
  const scanner = new JsonlScanner(options)
  const reader = file.stream().getReader()
  let done = false
  try {
    while (!done) {
      signal?.throwIfAborted()
      const next = await reader.read()
      done = next.done
      if (next.value) scanner.push(next.value)
    }
  } finally {
    if (!done) void reader.cancel().catch(() => undefined)
  }
  signal?.throwIfAborted()
  return scanner.finish(file.name)
}
