/**
 * What a valid line of a batch input file is: the one set of rules that the service applies to every line
 * when a batch is created (main/batch/validate-jsonl.ts) and that the dashboard applies to the first lines of
 * a file before it is uploaded (renderer/src/jsonl-preview.ts), so both name a bad line in the same words.
 * Runtime-neutral like all of main/contract: plain strings and objects in, problems out.
 *
 * A line gets one problem, the first found, in this order: the line itself (size, UTF-8, blank, JSON, an
 * object), then its fields (BatchLineRules.check). What only the service knows stays with it: its own line size
 * limit, the registry behind resolveModel, the request limit and the bounds of the error list.
 */

import { BATCH_ENDPOINTS, MAX_CUSTOM_ID_CHARS, type BatchEndpoint } from './batches'
import { echo } from './echo'
import { FirstLines } from './first-lines'

/** The field a request body must have, per endpoint, for the engine to accept it at all. */
export const REQUIRED_BODY_FIELD: Readonly<Record<BatchEndpoint, string>> = {
  '/v1/chat/completions': 'messages',
  '/v1/completions': 'prompt',
  '/v1/embeddings': 'input',
}

export interface LineProblem {
  /** 1-based line number. */
  line: number
  /** The OpenAI-style error code, e.g. `invalid_json_line`. */
  code: string
  /** The parameter at fault, e.g. `body.model`, or null for the line as a whole. */
  param: string | null
  /** What is wrong, worded to follow "line N: " (the dashboard lists it so, under its line number). */
  detail: string
  /** The whole message as the service records it: "line N: <detail>", or "line N is …" for a line that is no request. */
  message: string
}

/** A problem of the file as a whole, not of one line. */
export interface FileProblem {
  code: string
  message: string
}

/** The parts of a line the rules read, as JSON.parse gives them; see BatchLineRules.check. */
export type BatchLineFields = Readonly<Record<string, unknown>>

export type LineVerdict = { ok: true; customId: string } | { ok: false; problem: LineProblem }

export type ParsedLine = { ok: true; fields: BatchLineFields } | { ok: false; problem: LineProblem }

export const EMPTY_FILE: FileProblem = { code: 'empty_file', message: 'the input file holds no requests' }

const fmt = (n: number): string => n.toLocaleString('en-US')

/** A problem worded "line N: detail". */
function fieldProblem(line: number, code: string, param: string | null, detail: string): LineProblem {
  return { line, code, param, detail, message: `line ${line}: ${detail}` }
}

/** A problem of a line that is no request at all, worded "line N <predicate>" (the service's message) or "line N: <detail>". */
function lineProblem(line: number, predicate: string, detail: string, code = 'invalid_json_line'): LineProblem {
  return { line, code, param: null, detail, message: `line ${line} ${predicate}` }
}

export function lineTooLarge(line: number, length: number, maxLineBytes: number): LineProblem {
  const detail = `${fmt(length)} bytes; a request line may have at most ${fmt(maxLineBytes)} bytes (VBS_MAX_LINE_BYTES)`
  return lineProblem(line, `is ${detail}`, detail, 'request_too_large')
}

export function notUtf8(line: number): LineProblem {
  return lineProblem(line, 'is not valid UTF-8 text', 'not valid UTF-8 text')
}

/** Blank lines (whitespace only) are skipped, as vLLM's run-batch does: they are no requests, and no problem. */
export function isBlankLine(text: string): boolean {
  return text.trim() === ''
}

/** A decoded, non-blank line as JSON: a request must be one JSON object. */
export function parseLine(line: number, text: string): ParsedLine {
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch (err) {
    const detail = `not valid JSON: ${(err as Error).message}`
    return { ok: false, problem: lineProblem(line, `is ${detail}`, detail) }
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    const detail = 'must be a JSON object, one request per line'
    return { ok: false, problem: lineProblem(line, detail, detail) }
  }
  return { ok: true, fields: value as BatchLineFields }
}

export function isBatchEndpoint(url: unknown): url is BatchEndpoint {
  return typeof url === 'string' && (BATCH_ENDPOINTS as readonly string[]).includes(url)
}

/** A line whose url is not the batch's endpoint; `endpoint` null while the batch's endpoint is not known yet. */
export function urlProblem(line: number, url: unknown, endpoint: string | null): LineProblem {
  return endpoint === null
    ? fieldProblem(line, 'invalid_url', 'url', `url ${echo(url)} is not a batch endpoint (${BATCH_ENDPOINTS.join(', ')})`)
    : fieldProblem(line, 'invalid_url', 'url', `url ${echo(url)} differs from the batch's endpoint "${endpoint}"`)
}

/** Characters (code points) of a string, without copying it. */
function characters(s: string): number {
  let n = 0
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i)
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
      const d = s.charCodeAt(i + 1)
      if (d >= 0xdc00 && d <= 0xdfff) i += 1
    }
    n += 1
  }
  return n
}

const REQUIRED_FIELDS = ['custom_id', 'method', 'url', 'body'] as const

export interface BatchLineOptions {
  /** The batch's endpoint: every line's url must equal it. Null while not known (the preview's first lines). */
  endpoint: string | null
  /**
   * The registry id a client's model name stands for, or undefined if it is unknown. Without it (in the
   * browser, which has no registry) every name is taken as it is and only a second, different name is refused.
   */
  resolveModel?: (name: string) => string | undefined
}

/**
 * The rules of a batch's lines, fed in line order: each line's own checks and those across lines (one
 * endpoint, one model, custom_ids unique). A check reads the parsed line's custom_id, method, url and body, and
 * of the body only `stream`, `model` and the endpoint's required field (of that one only whether it is there):
 * the service's fast path (main/batch/request-scan.ts) hands over just these, so a rule that reads more of a
 * line must be taught to it as well.
 */
export class BatchLineRules {
  endpoint: string | null
  /** The model every line must use (its registry id, or the name as written without resolveModel), from the first line that names one. */
  model: string | null = null
  /** The line that set `model`. */
  modelLine = 0
  private readonly resolveModel: (name: string) => string | undefined
  private readonly customIds = new FirstLines()

  constructor(options: BatchLineOptions) {
    this.endpoint = options.endpoint
    this.resolveModel = options.resolveModel ?? ((name) => name)
  }

  /**
   * The verdict on one line's fields. It does not take the line's custom_id: call admit() for the requests
   * kept (the service keeps none beyond its request limit, which bounds the memory the ids take).
   */
  check(line: number, fields: BatchLineFields): LineVerdict {
    for (const field of REQUIRED_FIELDS) {
      if (fields[field] === undefined || fields[field] === null) {
        return fail(line, 'missing_required_parameter', field, `missing required parameter '${field}'`)
      }
    }
    const customId = fields.custom_id
    if (typeof customId !== 'string' || customId === '') {
      return fail(line, 'invalid_type', 'custom_id', 'custom_id must be a non-empty string')
    }
    // The cheap length first: a string has at least as many UTF-16 units as characters.
    if (customId.length > MAX_CUSTOM_ID_CHARS) {
      const n = characters(customId)
      if (n > MAX_CUSTOM_ID_CHARS) {
        return fail(line, 'invalid_value', 'custom_id', `custom_id is ${fmt(n)} characters long; at most ${MAX_CUSTOM_ID_CHARS} are allowed`)
      }
    }
    if (fields.method !== 'POST') {
      return fail(line, 'invalid_value', 'method', `method must be "POST", got ${echo(fields.method)}`)
    }
    const url = fields.url
    if (this.endpoint === null ? !isBatchEndpoint(url) : url !== this.endpoint) {
      return { ok: false, problem: urlProblem(line, url, this.endpoint) }
    }
    const endpoint = url as BatchEndpoint
    const body = fields.body
    if (typeof body !== 'object' || Array.isArray(body) || body === null) {
      return fail(line, 'invalid_type', 'body', 'body must be a JSON object')
    }
    const b = body as Readonly<Record<string, unknown>>
    if (b.stream === true) {
      return fail(line, 'streaming_unsupported', 'body.stream', 'streaming is not supported in a batch; remove "stream": true')
    }
    if (b.model === undefined || b.model === null || b.model === '') {
      return fail(line, 'invalid_request', 'body.model', 'body.model is required')
    }
    if (typeof b.model !== 'string') {
      return fail(line, 'invalid_type', 'body.model', 'body.model must be a string')
    }
    const model = this.resolveModel(b.model)
    if (model === undefined) {
      return fail(line, 'model_not_found', 'body.model', `model ${echo(b.model)} is not in models.yaml`)
    }
    // Set before the checks below, so a line that names the model but fails them still sets it.
    if (this.model === null) {
      this.model = model
      this.modelLine = line
    } else if (model !== this.model) {
      return fail(
        line,
        'mismatched_model',
        'body.model',
        `model ${echo(b.model)} differs from ${JSON.stringify(this.model)} used from line ${this.modelLine}; a batch runs one model`,
      )
    }
    const needed = REQUIRED_BODY_FIELD[endpoint]
    if (needed !== undefined && (b[needed] === undefined || b[needed] === null)) {
      return fail(line, 'missing_required_parameter', `body.${needed}`, `body.${needed} is required for ${endpoint}`)
    }
    const first = this.customIds.get(customId)
    if (first !== undefined) {
      return fail(line, 'duplicate_custom_id', 'custom_id', `custom_id ${echo(customId)} already used on line ${first}`)
    }
    return { ok: true, customId }
  }

  /** Takes a request the caller keeps: a later line with its custom_id is a duplicate. */
  admit(line: number, customId: string): void {
    this.customIds.set(customId, line)
  }
}

function fail(line: number, code: string, param: string | null, detail: string): LineVerdict {
  return { ok: false, problem: fieldProblem(line, code, param, detail) }
}
