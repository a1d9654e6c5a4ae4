/**
 * The preview of a batch input file, computed in the browser before anything is uploaded: how many lines,
 * which endpoint and model, and the first problems with their line numbers. The file is streamed: every line
 * is counted, but only the first PREVIEW_CHECK_LINES are decoded and checked, so a 100 MB file is never held
 * as one string. The service validates the whole file again when the batch is created; this is a quick look.
 */

import { BATCH_ENDPOINTS, MAX_CUSTOM_ID_CHARS } from '../../main/contract/batches'

/** Lines decoded and checked; the rest are only counted. */
export const PREVIEW_CHECK_LINES = 2000
/** Problems listed; the rest are counted. */
export const PREVIEW_MAX_PROBLEMS = 20
/** A line longer than this is not decoded (the service's default limit per line is 16 MiB). */
export const PREVIEW_MAX_LINE_BYTES = 16 * 1024 * 1024

/** What each endpoint needs in `body`, as the service checks it. */
const REQUIRED_BODY_FIELD: Record<string, string> = {
  '/v1/chat/completions': 'messages',
  '/v1/completions': 'prompt',
  '/v1/embeddings': 'input',
}

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
  /** The lines' url, from the first line that names a batch endpoint. */
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

/** Feed it the file's bytes in chunks of any size, then call finish(). Pure. */
export class JsonlScanner {
  private readonly decoder = new TextDecoder('utf-8', { fatal: true })
  private lineNo = 0
  private lines = 0
  private blankLines = 0
  private bytes = 0
  private checkedLines = 0
  /** The current line's bytes, kept only while it is one of the lines to check. */
  private pending: Uint8Array[] = []
  private pendingBytes = 0
  private tooLong = false
  private hasContent = false
  private endpoint: string | null = null
  private endpointLine = 0
  private readonly models = new Map<string, number>()
  private readonly customIds = new Map<string, number>()
  private readonly problems: PreviewProblem[] = []
  private moreProblems = 0

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
    if (this.lines === 0) fileProblems.push({ line: null, message: 'the file has no requests (it is empty or every line is blank)' })
    return {
      lines: this.lines,
      blankLines: this.blankLines,
      bytes: this.bytes,
      checkedLines: this.checkedLines,
      endpoint: this.endpoint,
      models: [...this.models.keys()],
      problems: [...fileProblems, ...this.problems],
      moreProblems: this.moreProblems,
    }
  }

  private get checking(): boolean {
    return this.lineNo < PREVIEW_CHECK_LINES
  }

  private take(chunk: Uint8Array, start: number, end: number): void {
    if (start === end) return
    if (this.checking) {
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
      const parts = this.pending
      this.pending = []
      this.pendingBytes = 0
      this.tooLong = false
      if (tooLong) {
        this.lines += 1
        this.checkedLines += 1
        this.problem(line, `longer than ${PREVIEW_MAX_LINE_BYTES / 1024 / 1024} MiB: too large for one request`)
        return
      }
      let text: string
      try {
        text = this.decoder.decode(concat(parts))
      } catch {
        this.lines += 1
        this.checkedLines += 1
        this.problem(line, 'not valid UTF-8')
        return
      }
      if (text.trim() === '') {
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

  private problem(line: number, message: string): void {
    if (this.problems.length < PREVIEW_MAX_PROBLEMS) this.problems.push({ line, message })
    else this.moreProblems += 1
  }

  /** The checks the service makes on each line, in the same words where it can. */
  private check(line: number, text: string): void {
    let value: unknown
    try {
      value = JSON.parse(text)
    } catch {
      this.problem(line, 'not valid JSON')
      return
    }
    if (!isRecord(value)) {
      this.problem(line, 'not a JSON object')
      return
    }
    const { custom_id: customId, method, url, body } = value
    if (customId === undefined) this.problem(line, 'missing custom_id')
    else if (typeof customId !== 'string') this.problem(line, `custom_id must be a string, not ${JSON.stringify(customId)}`)
    else if (customId === '') this.problem(line, 'custom_id must not be empty')
    else if (customId.length > MAX_CUSTOM_ID_CHARS && [...customId].length > MAX_CUSTOM_ID_CHARS) {
      this.problem(line, `custom_id is ${[...customId].length.toLocaleString('en-US')} characters long; at most ${MAX_CUSTOM_ID_CHARS} are allowed`)
    } else {
      const first = this.customIds.get(customId)
      if (first !== undefined) this.problem(line, `custom_id '${customId}' already used on line ${first}`)
      else this.customIds.set(customId, line)
    }

    if (method === undefined) this.problem(line, 'missing method (must be "POST")')
    else if (method !== 'POST') this.problem(line, `method must be "POST", not ${JSON.stringify(method)}`)

    let lineEndpoint: string | null = null
    if (url === undefined) this.problem(line, 'missing url')
    else if (typeof url !== 'string' || !(BATCH_ENDPOINTS as readonly string[]).includes(url)) {
      this.problem(line, `url ${JSON.stringify(url)} is not a batch endpoint (${BATCH_ENDPOINTS.join(', ')})`)
    } else if (this.endpoint === null) {
      this.endpoint = url
      this.endpointLine = line
      lineEndpoint = url
    } else if (url !== this.endpoint) {
      this.problem(line, `url '${url}' differs from '${this.endpoint}' on line ${this.endpointLine}: a batch has one endpoint`)
    } else {
      lineEndpoint = url
    }

    if (!isRecord(body)) {
      this.problem(line, body === undefined ? 'missing body' : 'body must be a JSON object')
      return
    }
    const model = body.model
    if (model === undefined || model === '') this.problem(line, 'missing body.model')
    else if (typeof model !== 'string') this.problem(line, 'body.model must be a string')
    else {
      const [firstModel, firstLine] = this.models.entries().next().value ?? [null, 0]
      if (!this.models.has(model)) this.models.set(model, line)
      if (firstModel !== null && firstModel !== model) {
        this.problem(line, `model '${model}' differs from '${firstModel}' on line ${firstLine}: a batch runs one model`)
      }
    }
    if (body.stream === true) this.problem(line, 'body.stream is true: streaming is not supported in a batch')
    const required = lineEndpoint === null ? undefined : REQUIRED_BODY_FIELD[lineEndpoint]
    if (required !== undefined && body[required] === undefined) this.problem(line, `missing body.${required}`)
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
export async function previewJsonl(file: Blob & { name?: string }, signal?: AbortSignal): Promise<JsonlPreview> {
  const scanner = new JsonlScanner()
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
