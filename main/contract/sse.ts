/** One Server-Sent Events message (`GET /api/events`; read by the window and by vbs): its `event:` name ('message' when absent) and its `data:` lines joined. */
export interface SseMessage {
  event: string
  data: string
}

/**
 * An incremental parser for a `text/event-stream` body (the WHATWG rules that matter here): chunks may split
 * a line, a multi-byte character or a CRLF anywhere; lines end in LF, CR or CRLF; `:` starts a comment;
 * a blank line ends a message; a message without data is dropped. Pure: bytes in, messages out.
 */
export class SseParser {
  private readonly decoder = new TextDecoder('utf-8')
  private buffer = ''
  /** The last chunk ended in CR: an LF at the start of the next one belongs to that line end. */
  private pendingCr = false
  private eventName = ''
  private dataLines: string[] = []

  /** Feeds the next chunk; returns the messages it completed. */
  push(chunk: Uint8Array | string): SseMessage[] {
    let text = typeof chunk === 'string' ? chunk : this.decoder.decode(chunk, { stream: true })
    if (this.pendingCr && text.startsWith('\n')) text = text.slice(1)
    this.pendingCr = false
    this.buffer += text
    const out: SseMessage[] = []
    let start = 0
    for (;;) {
      const cr = this.buffer.indexOf('\r', start)
      const lf = this.buffer.indexOf('\n', start)
      const end = cr === -1 ? lf : lf === -1 ? cr : Math.min(cr, lf)
      if (end === -1) break
      this.line(this.buffer.slice(start, end), out)
      if (this.buffer[end] === '\r') {
        if (end + 1 === this.buffer.length) {
          this.pendingCr = true
          start = end + 1
          break
        }
        start = this.buffer[end + 1] === '\n' ? end + 2 : end + 1
      } else {
        start = end + 1
      }
    }
    this.buffer = this.buffer.slice(start)
    return out
  }

  private line(line: string, out: SseMessage[]): void {
    if (line === '') {
      if (this.dataLines.length > 0) out.push({ event: this.eventName || 'message', data: this.dataLines.join('\n') })
      this.eventName = ''
      this.dataLines = []
      return
    }
    if (line.startsWith(':')) return
    const colon = line.indexOf(':')
    const field = colon === -1 ? line : line.slice(0, colon)
    let value = colon === -1 ? '' : line.slice(colon + 1)
    if (value.startsWith(' ')) value = value.slice(1)
    if (field === 'event') this.eventName = value
    else if (field === 'data') this.dataLines.push(value)
    // `id` and `retry` are not used: the dashboard reloads everything after a reconnect.
  }
}
