import type { BatchLineFields } from '../contract/batch-line'
import { skipPlainRun } from './wasm/plain-run'

/**
 * The service's fast path for the usual request line. It reads the fields that the batch-line rules look at
 * (main/contract/batch-line.ts) straight from the line's bytes, and checks on the way that the whole line is
 * JSON, without decoding the line to a string or building its body. Most of a line is its prompt, which is then
 * only stepped over byte by byte, never copied: decoding and parsing every line whole took most of a
 * validation's time.
 *
 * It only ever says yes. For anything it is not sure of (a syntax error, an escaped key, a non-ASCII id or
 * model, a missing field, a body that is not an object, deep nesting) it returns null, and the caller decodes
 * and parses the line as usual, which also words the problem exactly. For bytes that are valid UTF-8, a line it
 * accepts is one that JSON.parse accepts, and the fields it gives are those the rules would read of JSON.parse's
 * result (tests/unit/request-scan.test.ts compares the two).
 */

const QUOTE = 0x22
const BACKSLASH = 0x5c
const COMMA = 0x2c
const COLON = 0x3a
const LBRACE = 0x7b
const RBRACE = 0x7d
const LBRACKET = 0x5b
const RBRACKET = 0x5d
const MINUS = 0x2d
const PLUS = 0x2b
const DOT = 0x2e
const ZERO = 0x30
const ONE = 0x31
const NINE = 0x39
const FAIL = -1
/** Deeper nesting is left to JSON.parse (it has no recursion to run out of). */
const MAX_DEPTH = 64

/** Per byte: 1 where the plain run of a string stops (its closing quote, an escape, a control character). */
const STRING_STOP = new Uint8Array(256)
STRING_STOP[QUOTE] = 1
STRING_STOP[BACKSLASH] = 1
for (let c = 0; c < 0x20; c++) STRING_STOP[c] = 1
/** Per byte: 1 for the characters that may follow a backslash, other than `u`. */
const SIMPLE_ESCAPE = new Uint8Array(256)
for (const c of '"\\/bfnrt') SIMPLE_ESCAPE[c.charCodeAt(0)] = 1
const HEX = new Uint8Array(256)
for (const c of '0123456789abcdefABCDEF') HEX[c.charCodeAt(0)] = 1

const bytesOf = (names: readonly string[]): Uint8Array[] => names.map((n) => Uint8Array.from(n, (c) => c.charCodeAt(0)))
// The keys tracked, each in its slot.
const TOP_KEYS = bytesOf(['custom_id', 'method', 'url', 'body'])
const CUSTOM_ID = 0
const METHOD = 1
const URL_SLOT = 2
const BODY = 3
/** `model`, `stream`, and the required field of each endpoint (REQUIRED_BODY_FIELD). */
const BODY_KEYS = bytesOf(['model', 'stream', 'messages', 'prompt', 'input'])
const MODEL = 0
const STREAM = 1
const MESSAGES = 2
const PROMPT = 3
const INPUT = 4

// Scratch space of one scan (scans are synchronous, one at a time): where each tracked value starts and ends,
// -1 while not seen. A key seen twice keeps its last value, as JSON.parse does.
const topStart = new Int32Array(TOP_KEYS.length)
const topEnd = new Int32Array(TOP_KEYS.length)
const bodyStart = new Int32Array(BODY_KEYS.length)
const bodyEnd = new Int32Array(BODY_KEYS.length)
/** Plain bytes in a row after which the rest of a string's plain run is left to ./wasm/plain-run. */
const PLAIN_RUN_AFTER = 16
/** Set by skipString when the string held an escape. */
let escaped = false

/** What the scan puts for a body field that is there but not read (its value may be a whole prompt). */
const PRESENT = true
/** small() could not be sure of a value. */
const NOT_SURE = Symbol('not sure')

/**
 * The fields of a request line (custom_id, method, url, body with its model, stream and required field), or
 * null when the line must be parsed the usual way. `line` must be valid UTF-8 (the caller checks it).
 */
export function scanRequest(line: Buffer): BatchLineFields | null {
  const end = line.length
  let i = skipSpace(line, 0, end)
  if (i >= end || line[i] !== LBRACE) return null
  for (let k = 0; k < TOP_KEYS.length; k++) topStart[k] = -1
  clearBody()
  i = scanMembers(line, i + 1, end, TOP_KEYS, topStart, topEnd, 1)
  if (i === FAIL || skipSpace(line, i, end) !== end) return null
  for (let k = 0; k < TOP_KEYS.length; k++) if (topStart[k] === -1) return null
  if (line[topStart[BODY]] !== LBRACE) return null

  const customId = small(line, topStart[CUSTOM_ID], topEnd[CUSTOM_ID])
  const method = recentMethod.value(line, topStart[METHOD], topEnd[METHOD])
  const url = recentUrl.value(line, topStart[URL_SLOT], topEnd[URL_SLOT])
  const model = bodyStart[MODEL] === -1 ? undefined : recentModel.value(line, bodyStart[MODEL], bodyEnd[MODEL])
  const stream = bodyStart[STREAM] === -1 ? undefined : small(line, bodyStart[STREAM], bodyEnd[STREAM])
  if (customId === NOT_SURE || method === NOT_SURE || url === NOT_SURE || model === NOT_SURE || stream === NOT_SURE) return null
  // One shape for every line; a field not in the line is undefined, which the rules read as JSON.parse's absent key.
  const body = {
    model,
    stream,
    messages: presence(line, MESSAGES),
    prompt: presence(line, PROMPT),
    input: presence(line, INPUT),
  }
  return { custom_id: customId, method, url, body }
}

/**
 * The last value read in one place (a line's method, url, model): the lines of a file mostly repeat them, so
 * the same bytes give back the same string instead of a new one per line.
 */
class RecentValue {
  private bytes = Buffer.alloc(0)
  private last: unknown = NOT_SURE

  value(b: Buffer, s: number, e: number): unknown {
    const n = e - s
    if (n === this.bytes.length && this.last !== NOT_SURE) {
      let j = 0
      while (j < n && b[s + j] === this.bytes[j]) j++
      if (j === n) return this.last
    }
    const value = small(b, s, e)
    // Only strings and other primitives are shared: an object handed to two lines could be changed through one.
    if (value !== NOT_SURE && (typeof value !== 'object' || value === null) && n <= 256) {
      this.bytes = Buffer.from(b.subarray(s, e))
      this.last = value
    }
    return value
  }
}
const recentMethod = new RecentValue()
const recentUrl = new RecentValue()
const recentModel = new RecentValue()

function clearBody(): void {
  for (let k = 0; k < BODY_KEYS.length; k++) bodyStart[k] = -1
}

/** A body field the rules only ask the presence of: undefined when absent, null, or PRESENT. */
function presence(b: Buffer, slot: number): typeof PRESENT | null | undefined {
  const s = bodyStart[slot]
  if (s === -1) return undefined
  return isNull(b, s, bodyEnd[slot]) ? null : PRESENT
}

/**
 * The members of an object, from just after its `{`: records in `starts`/`ends` where the values of `keys` are.
 * In the line's object (TOP_KEYS) an object under `body` is scanned the same way for BODY_KEYS.
 */
function scanMembers(b: Buffer, i: number, end: number, keys: readonly Uint8Array[], starts: Int32Array, ends: Int32Array, depth: number): number {
  i = skipSpace(b, i, end)
  if (i < end && b[i] === RBRACE) return i + 1
  for (;;) {
    if (i >= end || b[i] !== QUOTE) return FAIL
    const keyStart = i + 1
    escaped = false
    i = skipString(b, keyStart, end)
    if (i === FAIL || escaped) return FAIL // an escaped key might spell a tracked one
    const slot = keySlot(b, keyStart, i - 1, keys)
    i = skipSpace(b, i, end)
    if (i >= end || b[i] !== COLON) return FAIL
    i = skipSpace(b, i + 1, end)
    const valueStart = i
    if (keys === TOP_KEYS && slot === BODY && i < end && b[i] === LBRACE) {
      clearBody() // a later body replaces an earlier one whole
      i = scanMembers(b, i + 1, end, BODY_KEYS, bodyStart, bodyEnd, depth + 1)
    } else {
      i = skipValue(b, i, end, depth)
    }
    if (i === FAIL) return FAIL
    if (slot !== -1) {
      starts[slot] = valueStart
      ends[slot] = i
    }
    i = skipSpace(b, i, end)
    if (i >= end) return FAIL
    if (b[i] === RBRACE) return i + 1
    if (b[i] !== COMMA) return FAIL
    i = skipSpace(b, i + 1, end)
  }
}

/** Which of `keys` the key in b[from, to) is, or -1. */
function keySlot(b: Buffer, from: number, to: number, keys: readonly Uint8Array[]): number {
  const n = to - from
  for (let k = 0; k < keys.length; k++) {
    const key = keys[k]
    if (key.length !== n) continue
    let j = 0
    while (j < n && b[from + j] === key[j]) j++
    if (j === n) return k
  }
  return -1
}

/** JSON's whitespace: space, tab, CR, LF. */
function skipSpace(b: Buffer, i: number, end: number): number {
  while (i < end) {
    const c = b[i]
    if (c !== 0x20 && c !== 0x09 && c !== 0x0d && c !== 0x0a) break
    i++
  }
  return i
}

/** Steps over one JSON value starting at i; the index after it, or FAIL. `depth`: of the container it is in. */
function skipValue(b: Buffer, i: number, end: number, depth: number): number {
  if (i >= end) return FAIL
  const c = b[i]
  if (c === QUOTE) return skipString(b, i + 1, end)
  if (c === LBRACE) return depth >= MAX_DEPTH ? FAIL : skipObject(b, i + 1, end, depth + 1)
  if (c === LBRACKET) return depth >= MAX_DEPTH ? FAIL : skipArray(b, i + 1, end, depth + 1)
  if (c === MINUS || (c >= ZERO && c <= NINE)) return skipNumber(b, i, end)
  if (c === 0x74) return i + 3 < end && b[i + 1] === 0x72 && b[i + 2] === 0x75 && b[i + 3] === 0x65 ? i + 4 : FAIL // true
  if (c === 0x66) {
    // false
    return i + 4 < end && b[i + 1] === 0x61 && b[i + 2] === 0x6c && b[i + 3] === 0x73 && b[i + 4] === 0x65 ? i + 5 : FAIL
  }
  if (c === 0x6e) return i + 3 < end && b[i + 1] === 0x75 && b[i + 2] === 0x6c && b[i + 3] === 0x6c ? i + 4 : FAIL // null
  return FAIL
}

/** From just after the opening quote to just after the closing one. Bytes of 0x80 and up are text (UTF-8). */
function skipString(b: Buffer, i: number, end: number): number {
  // A string that runs on plain past PLAIN_RUN_AFTER bytes (a prompt) is handed to ./wasm/plain-run, which steps
  // over the rest of its plain run 16 bytes at a time when the line lies in a lent read buffer; short strings
  // (keys, ids) never pay for the call.
  let handOver = i + PLAIN_RUN_AFTER
  while (i < end) {
    const c = b[i]
    if (STRING_STOP[c] === 0) {
      if (++i === handOver) i = skipPlainRun(b, i, end)
      continue
    }
    if (c === QUOTE) return i + 1
    if (c !== BACKSLASH) return FAIL // a control character must be escaped
    escaped = true
    if (i + 1 >= end) return FAIL
    const e = b[i + 1]
    if (e === 0x75) {
      // \uXXXX
      if (i + 5 >= end || HEX[b[i + 2]] === 0 || HEX[b[i + 3]] === 0 || HEX[b[i + 4]] === 0 || HEX[b[i + 5]] === 0) return FAIL
      i += 6
    } else if (SIMPLE_ESCAPE[e] === 1) {
      i += 2
    } else {
      return FAIL
    }
    handOver = i + PLAIN_RUN_AFTER
  }
  return FAIL
}

function skipObject(b: Buffer, i: number, end: number, depth: number): number {
  i = skipSpace(b, i, end)
  if (i < end && b[i] === RBRACE) return i + 1
  for (;;) {
    if (i >= end || b[i] !== QUOTE) return FAIL
    i = skipString(b, i + 1, end)
    if (i === FAIL) return FAIL
    i = skipSpace(b, i, end)
    if (i >= end || b[i] !== COLON) return FAIL
    i = skipValue(b, skipSpace(b, i + 1, end), end, depth)
    if (i === FAIL) return FAIL
    i = skipSpace(b, i, end)
    if (i >= end) return FAIL
    if (b[i] === RBRACE) return i + 1
    if (b[i] !== COMMA) return FAIL
    i = skipSpace(b, i + 1, end)
  }
}

function skipArray(b: Buffer, i: number, end: number, depth: number): number {
  i = skipSpace(b, i, end)
  if (i < end && b[i] === RBRACKET) return i + 1
  for (;;) {
    i = skipValue(b, i, end, depth)
    if (i === FAIL) return FAIL
    i = skipSpace(b, i, end)
    if (i >= end) return FAIL
    if (b[i] === RBRACKET) return i + 1
    if (b[i] !== COMMA) return FAIL
    i = skipSpace(b, i + 1, end)
  }
}

const isDigit = (c: number): boolean => c >= ZERO && c <= NINE

/** -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? */
function skipNumber(b: Buffer, i: number, end: number): number {
  if (b[i] === MINUS) i++
  if (i >= end) return FAIL
  if (b[i] === ZERO) i++
  else if (b[i] >= ONE && b[i] <= NINE) {
    i++
    while (i < end && isDigit(b[i])) i++
  } else return FAIL
  if (i < end && b[i] === DOT) {
    i++
    if (i >= end || !isDigit(b[i])) return FAIL
    while (i < end && isDigit(b[i])) i++
  }
  if (i < end && (b[i] === 0x65 || b[i] === 0x45)) {
    i++
    if (i < end && (b[i] === PLUS || b[i] === MINUS)) i++
    if (i >= end || !isDigit(b[i])) return FAIL
    while (i < end && isDigit(b[i])) i++
  }
  return i
}

function isNull(b: Buffer, s: number, e: number): boolean {
  return e - s === 4 && b[s] === 0x6e && b[s + 1] === 0x75 && b[s + 2] === 0x6c && b[s + 3] === 0x6c
}

/**
 * The value in b[s, e), which scanning found to be JSON. Only ASCII is read here: for it Latin-1 is UTF-8, so
 * the text is exact; a value with other characters is left to the usual path (NOT_SURE).
 */
function small(b: Buffer, s: number, e: number): unknown {
  let plain = b[s] === QUOTE
  for (let j = s; j < e; j++) {
    const c = b[j]
    if (c >= 0x80) return NOT_SURE
    if (c === BACKSLASH) plain = false
  }
  return plain ? b.toString('latin1', s + 1, e - 1) : JSON.parse(b.toString('latin1', s, e))
}
