import type { Readable } from 'node:stream'

/** One line of a JSONL file: where it starts, how many bytes it has (without the newline). */
export interface RawLine {
  /** 1-based line number. */
  line: number
  offset: number
  length: number
  /** The line's bytes, or null when it is longer than the limit (its bytes were not kept). */
  bytes: Buffer | null
}

/**
 * Splits a byte stream into lines without ever holding more than one line (capped at maxLineBytes)
 * plus one chunk in memory. A line longer than the cap is reported with bytes = null.
 */
export async function* readLines(stream: Readable, maxLineBytes: number): AsyncGenerator<RawLine> {
  let line = 1
  let lineStart = 0 // file offset of the current line
  let pending: Buffer[] = [] // bytes of the current line seen so far
  let pendingBytes = 0
  let overlong = false
  let position = 0 // file offset of chunk[0]

  const take = (tail: Buffer | null, end: number): RawLine => {
    const length = end - lineStart
    let bytes: Buffer | null = null
    if (!overlong && length <= maxLineBytes) {
      if (tail === null) bytes = pending.length === 1 ? pending[0] : Buffer.concat(pending, pendingBytes)
      else bytes = pendingBytes === 0 ? tail : Buffer.concat([...pending, tail], pendingBytes + tail.length)
    }
    const out: RawLine = { line, offset: lineStart, length, bytes }
    line += 1
    pending = []
    pendingBytes = 0
    overlong = false
    return out
  }

  for await (const chunk of stream as AsyncIterable<Buffer>) {
    let from = 0
    for (;;) {
      const nl = chunk.indexOf(0x0a, from)
      if (nl === -1) break
      yield take(chunk.subarray(from, nl), position + nl)
      lineStart = position + nl + 1
      from = nl + 1
    }
    if (from < chunk.length) {
      const rest = chunk.subarray(from)
      if (!overlong && pendingBytes + rest.length <= maxLineBytes) {
        // Copy: the stream may reuse its chunk buffers.
        pending.push(Buffer.from(rest))
        pendingBytes += rest.length
      } else {
        overlong = true
        pending = []
        pendingBytes = 0
      }
    }
    position += chunk.length
  }
  if (position > lineStart) yield take(null, position)
}
