import { echo } from '../api-params'
import { MAX_CUSTOM_ID_CHARS, type BatchErrorEntry } from '../contract/batches'

/** What the validator needs to know about the batch and the registry. */
export interface ValidationRules {
  /** The batch's endpoint; every line's url must equal it. */
  endpoint: string
  /** The registry id a client's model name stands for (id or alias), or undefined if unknown. */
  resolveModel: (name: string) => string | undefined
  maxRequests: number
  maxLineBytes: number
  /** How many line errors to keep; beyond it they are only counted. */
  maxReportedErrors: number
  /** Most bytes the kept errors may take as JSON (default MAX_ERRORS_BYTES); beyond it they are only counted. */
  maxErrorsBytes?: number
}

/** Longest message of one error entry; a longer one is cut. */
export const MAX_ERROR_MESSAGE_CHARS = 500
/**
 * Most bytes a batch's `errors` take as JSON: the list is stored on the batch and sent with every retrieve and
 * list of batches, so a file full of long errors must not make it megabytes.
 */
export const MAX_ERRORS_BYTES = 256 * 1024
/** Room kept in MAX_ERRORS_BYTES for the entry that counts the errors not listed. */
const UNLISTED_NOTE_BYTES = 512

/** The field a request body must have, per endpoint, for the engine to accept it at all. */
const REQUIRED_BODY_FIELD: Record<string, string> = {
  '/v1/chat/completions': 'messages',
  '/v1/completions': 'prompt',
  '/v1/embeddings': 'input',
}

const utf8 = new TextDecoder('utf-8', { fatal: true })
const fmt = (n: number): string => n.toLocaleString('en-US')

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

/** A message cut to `max` characters (never in the middle of a surrogate pair). */
export function clipMessage(message: string, max = MAX_ERROR_MESSAGE_CHARS): string {
  if (message.length <= max) return message
  let end = max - 3
  const c = message.charCodeAt(end - 1)
  if (c >= 0xd800 && c <= 0xdbff) end -= 1
  return `${message.slice(0, end)}...`
}

export interface LineVerdict {
  /** The request's custom_id when the line is a valid request within the limits. */
  customId: string | null
}

/**
 * Checks a batch input file line by line: a pure function of the lines it is fed. Each bad line gets one
 * error entry (the first problem found) with its 1-based line number, an OpenAI error code and the param.
 */
export class JsonlValidator {
  /** The registry id every line must use: set by the first line that names a known model. */
  model: string | null = null
  private modelLine = 0
  private readonly customIds = new Map<string, number>()
  private requestCount = 0
  private nonBlankLines = 0
  private readonly errorList: BatchErrorEntry[] = []
  /** Bytes of errorList as JSON, counting the brackets and commas. */
  private errorBytes = 2
  /** Set once an error did not fit in maxErrorsBytes: later ones are only counted, so the list stays the first ones. */
  private errorsFull = false
  private errorCount = 0
  private limitReported = false

  constructor(private readonly rules: ValidationRules) {}

  /** Valid requests seen so far (within the limit). */
  get requests(): number {
    return this.requestCount
  }

  get hasErrors(): boolean {
    return this.errorCount > 0
  }

  /** Checks one line. `bytes` is null for a line longer than maxLineBytes. */
  check(line: number, bytes: Buffer | null, length: number): LineVerdict {
    const none: LineVerdict = { customId: null }
    if (bytes === null) {
      this.nonBlankLines += 1
      this.fail(
        line,
        'request_too_large',
        null,
        `line ${line} is ${fmt(length)} bytes; a request line may have at most ${fmt(this.rules.maxLineBytes)} bytes (VBS_MAX_LINE_BYTES)`,
      )
      return none
    }
    let text: string
    try {
      text = utf8.decode(bytes)
    } catch {
      this.nonBlankLines += 1
      this.fail(line, 'invalid_json_line', null, `line ${line} is not valid UTF-8 text`)
      return none
    }
    if (text.trim() === '') return none // blank lines are skipped, as vLLM's run-batch does
    this.nonBlankLines += 1

    let parsed: unknown
    try {
      parsed = JSON.parse(text)
    } catch (err) {
      this.fail(line, 'invalid_json_line', null, `line ${line} is not valid JSON: ${(err as Error).message}`)
      return none
    }
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
      this.fail(line, 'invalid_json_line', null, `line ${line} must be a JSON object, one request per line`)
      return none
    }
    const req = parsed as Record<string, unknown>
    const at = `line ${line}`

    for (const field of ['custom_id', 'method', 'url', 'body'] as const) {
      if (req[field] === undefined || req[field] === null) {
        this.fail(line, 'missing_required_parameter', field, `${at}: missing required parameter '${field}'`)
        return none
      }
    }
    const customId = req.custom_id
    if (typeof customId !== 'string' || customId === '') {
      this.fail(line, 'invalid_type', 'custom_id', `${at}: custom_id must be a non-empty string`)
      return none
    }
    if (customId.length > MAX_CUSTOM_ID_CHARS) {
      const n = characters(customId)
      if (n > MAX_CUSTOM_ID_CHARS) {
        this.fail(
          line,
          'invalid_value',
          'custom_id',
          `${at}: custom_id is ${fmt(n)} characters long; at most ${MAX_CUSTOM_ID_CHARS} are allowed`,
        )
        return none
      }
    }
    if (req.method !== 'POST') {
      this.fail(line, 'invalid_value', 'method', `${at}: method must be "POST", got ${echo(req.method)}`)
      return none
    }
    if (req.url !== this.rules.endpoint) {
      this.fail(
        line,
        'invalid_url',
        'url',
        `${at}: url ${echo(req.url)} differs from the batch's endpoint "${this.rules.endpoint}"`,
      )
      return none
    }
    const body = req.body
    if (typeof body !== 'object' || Array.isArray(body) || body === null) {
      this.fail(line, 'invalid_type', 'body', `${at}: body must be a JSON object`)
      return none
    }
    const b = body as Record<string, unknown>
    if (b.stream === true) {
      this.fail(line, 'streaming_unsupported', 'body.stream', `${at}: streaming is not supported in a batch; remove "stream": true`)
      return none
    }
    if (b.model === undefined || b.model === null || b.model === '') {
      this.fail(line, 'invalid_request', 'body.model', `${at}: body.model is required`)
      return none
    }
    if (typeof b.model !== 'string') {
      this.fail(line, 'invalid_type', 'body.model', `${at}: body.model must be a string`)
      return none
    }
    const model = this.rules.resolveModel(b.model)
    if (model === undefined) {
      this.fail(line, 'model_not_found', 'body.model', `${at}: model ${echo(b.model)} is not in models.yaml`)
      return none
    }
    if (this.model === null) {
      this.model = model
      this.modelLine = line
    } else if (model !== this.model) {
      this.fail(
        line,
        'mismatched_model',
        'body.model',
        `${at}: model ${echo(b.model)} differs from ${JSON.stringify(this.model)} used from line ${this.modelLine}; a batch runs one model`,
      )
      return none
    }
    const needed = REQUIRED_BODY_FIELD[this.rules.endpoint]
    if (needed && (b[needed] === undefined || b[needed] === null)) {
      this.fail(line, 'missing_required_parameter', `body.${needed}`, `${at}: body.${needed} is required for ${this.rules.endpoint}`)
      return none
    }
    const first = this.customIds.get(customId)
    if (first !== undefined) {
      this.fail(
        line,
        'duplicate_custom_id',
        'custom_id',
        `${at}: custom_id ${echo(customId)} already used on line ${first}`,
      )
      return none
    }
    if (this.requestCount >= this.rules.maxRequests) {
      if (!this.limitReported) {
        this.limitReported = true
        this.fail(
          line,
          'too_many_requests',
          null,
          `${at}: the file holds more than ${fmt(this.rules.maxRequests)} requests, the limit for one batch ` +
            '(VBS_MAX_REQUESTS_PER_BATCH); split it into several batches',
        )
      }
      return none
    }
    this.customIds.set(customId, line)
    this.requestCount += 1
    return { customId }
  }

  /**
   * The file's errors after its last line, including those about the file as a whole. At most maxReportedErrors
   * and maxErrorsBytes of them are listed, in line order; one last entry counts the rest.
   */
  finish(): BatchErrorEntry[] {
    if (this.nonBlankLines === 0) {
      this.fail(null, 'empty_file', null, 'the input file holds no requests')
    }
    const out = [...this.errorList]
    const unlisted = this.errorCount - this.errorList.length
    if (unlisted > 0) {
      out.push({
        code: 'too_many_errors',
        message: `${fmt(unlisted)} more lines have errors that are not listed; fix the ones above and try again`,
        param: null,
        line: null,
      })
    }
    return out
  }

  private fail(line: number | null, code: string, param: string | null, message: string): void {
    this.errorCount += 1
    if (this.errorsFull || this.errorList.length >= this.rules.maxReportedErrors) return
    const entry: BatchErrorEntry = { code, message: clipMessage(message), param, line }
    const bytes = Buffer.byteLength(JSON.stringify(entry)) + (this.errorList.length > 0 ? 1 : 0)
    if (this.errorBytes + bytes > (this.rules.maxErrorsBytes ?? MAX_ERRORS_BYTES) - UNLISTED_NOTE_BYTES) {
      this.errorsFull = true
      return
    }
    this.errorBytes += bytes
    this.errorList.push(entry)
  }
}
