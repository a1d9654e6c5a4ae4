import { isUtf8 } from 'node:buffer'
import {
  BatchLineRules,
  EMPTY_FILE,
  isBlankLine,
  lineTooLarge,
  notUtf8,
  parseLine,
  type BatchLineFields,
  type LineProblem,
} from '../contract/batch-line'
import type { BatchErrorEntry } from '../contract/batches'
import { scanRequest } from './request-scan'

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

// Fatal: a line that is not UTF-8 is an error, not replacement characters. It also drops a leading BOM, as it did
// before the fast path existed, so a file saved with one keeps validating.
const utf8 = new TextDecoder('utf-8', { fatal: true })
const fmt = (n: number): string => n.toLocaleString('en-US')
/**
 * Longest line the fast path (./request-scan) takes; a longer one is rare, and goes the usual way like any line
 * the fast path declines. That keeps JSON.parse, and what it costs, for the huge lines: the guard against a
 * validation that takes the service down (BatchService.recover) is tested with a line that exhausts the heap
 * in JSON.parse (tests/integration/validation-crash.test.ts), which the fast path would read without building it.
 */
export const FAST_PATH_MAX_BYTES = 1024 * 1024

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

const NONE: LineVerdict = Object.freeze({ customId: null })

/**
 * Checks a batch input file line by line: a pure function of the lines it is fed. Each bad line gets one
 * error entry (the first problem found, by the rules of main/contract/batch-line.ts that the dashboard's preview
 * shares) with its 1-based line number, an OpenAI error code and the param. On top of those rules the service
 * keeps its own: the line size limit, the request limit and the bounds of the error list.
 */
export class JsonlValidator {
  private readonly lineRules: BatchLineRules
  private requestCount = 0
  private nonBlankLines = 0
  private readonly errorList: BatchErrorEntry[] = []
  /** Bytes of errorList as JSON, counting the brackets and commas. */
  private errorBytes = 2
  /** Set once an error did not fit in maxErrorsBytes: later ones are only counted, so the list stays the first ones. */
  private errorsFull = false
  private errorCount = 0
  private limitReported = false

  constructor(private readonly rules: ValidationRules) {
    this.lineRules = new BatchLineRules({ endpoint: rules.endpoint, resolveModel: rules.resolveModel })
  }

  /** The registry id every line must use: set by the first line that names a known model. */
  get model(): string | null {
    return this.lineRules.model
  }

  /** Valid requests seen so far (within the limit). */
  get requests(): number {
    return this.requestCount
  }

  get hasErrors(): boolean {
    return this.errorCount > 0
  }

  /** Checks one line. `bytes` is null for a line longer than maxLineBytes, whose `length` is then named. */
  check(line: number, bytes: Buffer | null, length: number): LineVerdict {
    if (bytes === null) {
      this.nonBlankLines += 1
      return this.reject(lineTooLarge(line, length, this.rules.maxLineBytes))
    }
    // The usual line takes the fast path: no decoding, no JSON.parse. Any other goes the way that words its problem.
    let fields: BatchLineFields | null = bytes.length <= FAST_PATH_MAX_BYTES && isUtf8(bytes) ? scanRequest(bytes) : null
    if (fields === null) {
      let text: string
      try {
        text = utf8.decode(bytes)
      } catch {
        this.nonBlankLines += 1
        return this.reject(notUtf8(line))
      }
      if (isBlankLine(text)) return NONE // blank lines are skipped, as vLLM's run-batch does
      const parsed = parseLine(line, text)
      if (!parsed.ok) {
        this.nonBlankLines += 1
        return this.reject(parsed.problem)
      }
      fields = parsed.fields
    }
    this.nonBlankLines += 1
    const verdict = this.lineRules.check(line, fields)
    if (!verdict.ok) return this.reject(verdict.problem)
    if (this.requestCount >= this.rules.maxRequests) {
      if (!this.limitReported) {
        this.limitReported = true
        this.fail(
          line,
          'too_many_requests',
          null,
          `line ${line}: the file holds more than ${fmt(this.rules.maxRequests)} requests, the limit for one batch ` +
            '(VBS_MAX_REQUESTS_PER_BATCH); split it into several batches',
        )
      }
      return NONE
    }
    this.lineRules.admit(line, verdict.customId)
    this.requestCount += 1
    return { customId: verdict.customId }
  }

  /**
   * The file's errors after its last line, including those about the file as a whole. At most maxReportedErrors
   * and maxErrorsBytes of them are listed, in line order; one last entry counts the rest.
   */
  finish(): BatchErrorEntry[] {
    if (this.nonBlankLines === 0) {
      this.fail(null, EMPTY_FILE.code, null, EMPTY_FILE.message)
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

  private reject(problem: LineProblem): LineVerdict {
    this.fail(problem.line, problem.code, problem.param, problem.message)
    return NONE
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
