import fs from 'node:fs'
import http from 'node:http'
import https from 'node:https'
import path from 'node:path'
import crypto from 'node:crypto'
import { Readable, Transform } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { errorMessageOf, isErrorEnvelope } from '../main/contract/errors'
import type { FileObject } from '../main/contract/files'
import { SseParser } from '../main/contract/sse'
import { CliError, EXIT } from './exit-codes'
import type { Connection } from './discovery'

/** How long a plain API call may take before the server counts as not answering. */
const CALL_TIMEOUT_MS = 60_000
/** An event stream silent this long is dead (the service sends a keep-alive every 15 s). */
const STREAM_IDLE_MS = 45_000

export type Method = 'GET' | 'POST' | 'PUT' | 'DELETE'

/**
 * The service's HTTP API as `vbs` uses it: JSON calls, a streamed upload with progress, downloads to disk and
 * the event stream. Every failure becomes a CliError: not reachable (exit 3) or refused with the server's own
 * message (exit 4).
 */
export class ApiClient {
  constructor(
    public connection: Connection,
    private readonly rediscover: () => Connection = () => connection,
  ) {}

  /**
   * Looks for the server again before a reconnect: a local service that restarted may listen on another port
   * (its service.json says which).
   */
  refresh(): void {
    try {
      this.connection = this.rediscover()
    } catch {
      // keep the last one
    }
  }

  get base(): string {
    return this.connection.url
  }

  private headers(extra: Record<string, string> = {}): Record<string, string> {
    return { ...(this.connection.key ? { authorization: `Bearer ${this.connection.key}` } : {}), 'user-agent': 'vbs', ...extra }
  }

  async json<T>(method: Method, pathname: string, body?: unknown): Promise<T> {
    const res = await this.fetch(pathname, {
      method,
      headers: this.headers(body === undefined ? {} : { 'content-type': 'application/json' }),
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(CALL_TIMEOUT_MS),
    })
    let text: string
    try {
      text = await res.text()
    } catch (err) {
      throw this.unreachable(err) // the connection broke (or timed out) while the answer arrived
    }
    if (!res.ok) throw refused(method, pathname, res.status, text)
    try {
      return JSON.parse(text) as T
    } catch {
      throw new CliError(`${method} ${pathname}: the server at ${this.base} answered ${res.status} with something that is not JSON; is VBS_URL the service's address?`, EXIT.refused)
    }
  }

  /** fetch, with "could not connect" turned into exit 3 and a sentence saying where it looked. */
  async fetch(pathname: string, init: RequestInit): Promise<Response> {
    try {
      return await fetch(`${this.base}${pathname}`, init)
    } catch (err) {
      throw this.unreachable(err)
    }
  }

  unreachable(err: unknown): CliError {
    const e = err as Error & { cause?: { code?: string; message?: string } }
    const timedOut = e.name === 'TimeoutError' || e.name === 'AbortError'
    const why = timedOut ? `no answer within ${CALL_TIMEOUT_MS / 1000} s` : (e.cause?.code ?? e.cause?.message ?? e.message)
    return new CliError(`cannot reach the server at ${this.base} (${this.connection.source}): ${why}. Is the service running? Set VBS_URL to its address.`, EXIT.unreachable)
  }

  /**
   * Uploads a file (`POST /v1/files`, multipart, streamed from disk with its length known); `onProgress` hears
   * the bytes sent so far.
   */
  async upload(file: string, purpose: string, onProgress?: (sent: number, total: number) => void): Promise<FileObject> {
    const size = fs.statSync(file).size
    const boundary = `----vbs${crypto.randomBytes(12).toString('hex')}`
    const name = path.basename(file).replace(/["\r\n\\]/g, '_')
    const head = Buffer.from(
      `--${boundary}\r\nContent-Disposition: form-data; name="purpose"\r\n\r\n${purpose}\r\n` +
        `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="${name}"\r\nContent-Type: application/jsonl\r\n\r\n`,
    )
    const tail = Buffer.from(`\r\n--${boundary}--\r\n`)
    const url = new URL(`${this.base}/v1/files`)
    const transport = url.protocol === 'https:' ? https : http
    let sent = 0
    const counter = new Transform({
      transform(chunk: Buffer, _enc, done) {
        sent += chunk.length
        onProgress?.(sent, size)
        done(null, chunk)
      },
    })
    const { status, text } = await new Promise<{ status: number; text: string }>((resolve, reject) => {
      let answered = false
      const req = transport.request(
        url,
        { method: 'POST', headers: this.headers({ 'content-type': `multipart/form-data; boundary=${boundary}`, 'content-length': String(head.length + size + tail.length) }) },
        (res) => {
          answered = true
          let out = ''
          res.setEncoding('utf8')
          res.on('data', (d: string) => (out += d))
          res.on('end', () => resolve({ status: res.statusCode ?? 0, text: out }))
          res.on('error', reject)
        },
      )
      // An answer given before the whole body was read (401, 413) may be followed by a reset: the answer counts.
      req.on('error', (err) => {
        if (!answered) reject(err)
      })
      req.write(head)
      // The server may answer (and close) before the whole body is sent: a 413 or 401 comes through above.
      pipeline(fs.createReadStream(file), counter, async function* (source: AsyncIterable<Buffer>) {
        for await (const chunk of source) yield chunk
        yield tail
      }, req).catch(() => undefined)
    }).catch((err: unknown) => {
      throw this.unreachable(err)
    })
    if (status < 200 || status >= 300) throw refused('upload', path.basename(file), status, text)
    return JSON.parse(text) as FileObject
  }

  /** Streams `GET pathname` into `dest` (through a temporary file beside it, renamed when complete). */
  async download(pathname: string, dest: string): Promise<number> {
    const res = await this.fetch(pathname, { headers: this.headers() })
    if (!res.ok || !res.body) throw refused('GET', pathname, res.status, await res.text())
    const tmp = `${dest}.${process.pid}.part`
    let bytes = 0
    try {
      await pipeline(
        Readable.fromWeb(res.body as import('node:stream/web').ReadableStream<Uint8Array>),
        new Transform({
          transform(chunk: Buffer, _e, done) {
            bytes += chunk.length
            done(null, chunk)
          },
        }),
        fs.createWriteStream(tmp),
      )
      fs.renameSync(tmp, dest)
    } catch (err) {
      fs.rmSync(tmp, { force: true })
      if (err instanceof CliError) throw err
      const e = err as NodeJS.ErrnoException
      if (e.code && e.syscall) throw new CliError(`cannot write ${dest}: ${e.message}`, EXIT.usage)
      throw this.unreachable(err)
    }
    return bytes
  }

  /**
   * Reads `GET /api/events` until `signal` aborts or the stream ends; each event goes to `onEvent`. Resolves
   * when the stream ends (the service stopped, or it went quiet for STREAM_IDLE_MS: the service sends a
   * keep-alive every 15 s, so a silent stream is a dead connection), rejects when it cannot be opened.
   */
  async events(onEvent: (name: string, data: unknown) => void, signal: AbortSignal): Promise<void> {
    const quiet = new AbortController()
    const both = AbortSignal.any([signal, quiet.signal])
    let heard = Date.now()
    const watchdog = setInterval(() => Date.now() - heard > STREAM_IDLE_MS && quiet.abort(), 1000)
    try {
      const res = await this.fetch('/api/events', { headers: this.headers({ accept: 'text/event-stream' }), signal: both })
      if (!res.ok || !res.body) throw refused('GET', '/api/events', res.status, await res.text())
      const parser = new SseParser()
      const reader = res.body.getReader()
      try {
        for (;;) {
          const { done, value } = await reader.read()
          if (done) return
          heard = Date.now()
          for (const m of parser.push(value)) {
            let data: unknown
            try {
              data = JSON.parse(m.data)
            } catch {
              continue
            }
            onEvent(m.event, data)
          }
        }
      } finally {
        reader.releaseLock()
      }
    } catch (err) {
      if (both.aborted) return
      throw err instanceof CliError ? err : this.unreachable(err)
    } finally {
      clearInterval(watchdog)
    }
  }
}

/** The server's error as one line: what was asked, the status, and its message (OpenAI's envelope). */
function refused(what: string, target: string, status: number, text: string): CliError {
  let message = errorMessageOf(text) ?? `status ${status}`
  try {
    const body = JSON.parse(text) as unknown
    if (isErrorEnvelope(body)) message = body.error.message
  } catch {
    // not JSON: errorMessageOf took its first characters
  }
  const hint = status === 401 ? ' (the API key is wrong: set VBS_API_KEY, or run vbs on the service\'s machine)' : ''
  return new CliError(`${what} ${target}: ${status} ${message}${hint}`, EXIT.refused)
}
