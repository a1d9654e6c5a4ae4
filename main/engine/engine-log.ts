import fs from 'node:fs'
import path from 'node:path'

/**
 * The engine's stdout and stderr: appended to `<data>/logs/engine.log`, rotated by size
 * (engine.log.1, .2, ...), with the last lines kept in memory for the status and the window.
 */
export class EngineLog {
  private fd: number | null = null
  private size = 0
  private readonly tail: string[] = []
  private partial = ''
  /** Bytes that could not be written to the file since the last write that worked. */
  private lost = 0

  constructor(
    readonly file: string,
    private readonly maxBytes: number,
    private readonly keepFiles: number,
    private readonly tailLines = 200,
  ) {
    fs.mkdirSync(path.dirname(file), { recursive: true })
  }

  /** Takes a chunk of output; calls onLine for every complete line. */
  write(chunk: Buffer | string, onLine?: (line: string) => void): void {
    const text = chunk.toString()
    this.append(text)
    const parts = (this.partial + text).split(/\r?\n/)
    this.partial = parts.pop() ?? ''
    if (this.partial.length > 64 * 1024) {
      parts.push(this.partial)
      this.partial = ''
    }
    for (const line of parts) {
      this.tail.push(line)
      if (this.tail.length > this.tailLines) this.tail.shift()
      onLine?.(line)
    }
  }

  /** A line of our own (launch, exit), marked so it is not mistaken for vLLM's. */
  note(message: string): void {
    this.write(`[vllm-batch-server] ${new Date().toISOString()} ${message}\n`)
  }

  lines(n = this.tailLines): string[] {
    return this.tail.slice(-n)
  }

  close(): void {
    if (this.fd !== null) fs.closeSync(this.fd)
    this.fd = null
  }

  /**
   * Appends to the file. A write that fails (a full disk) loses the text on disk only: the engine's output is
   * still read, kept in the tail and parsed; a line says how much was lost once writing works again.
   */
  private append(text: string): void {
    try {
      if (this.lost > 0) {
        const lost = this.lost
        this.lost = 0
        this.appendToFile(`[vllm-batch-server] ${new Date().toISOString()} ${lost} bytes of engine output were lost: the log could not be written\n`)
      }
      this.appendToFile(text)
    } catch {
      this.lost += Buffer.byteLength(text)
    }
  }

  private appendToFile(text: string): void {
    if (this.fd === null) {
      this.fd = fs.openSync(this.file, 'a', 0o600)
      this.size = fs.fstatSync(this.fd).size
    }
    const bytes = Buffer.from(text)
    if (this.size + bytes.length > this.maxBytes && this.size > 0) this.rotate()
    fs.writeSync(this.fd!, bytes)
    this.size += bytes.length
  }

  private rotate(): void {
    this.close()
    for (let i = this.keepFiles - 1; i >= 1; i--) {
      const from = i === 1 ? this.file : `${this.file}.${i - 1}`
      if (fs.existsSync(from)) fs.renameSync(from, `${this.file}.${i}`)
    }
    this.fd = fs.openSync(this.file, 'w', 0o600)
    this.size = 0
  }
}
