import fs from 'node:fs'
import type { IncomingMessage } from 'node:http'
import path from 'node:path'
import { Transform, Writable, type TransformCallback } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import busboy from 'busboy'
import { ApiError, badRequest } from '../api-error'
import type { UploadGuard } from '../files/file-service'
import { echo } from '../api-params'

/** An upload received whole into a temporary file. */
export interface ReceivedUpload {
  tempPath: string
  filename: string
  bytes: number
  lineCount: number
  fields: Record<string, string>
}

export interface UploadLimits {
  maxFileBytes: number
  /** Watches the file as it is written (free space, quota) and names the answer to a failed write. */
  guard?: UploadGuard
}

const NO_GUARD: UploadGuard = { grew: () => undefined, writeFailed: (err) => err }

/** Counts bytes and lines as they pass, so the file never needs a second read. */
class LineCounter extends Transform {
  bytes = 0
  newlines = 0
  lastByte = -1

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    this.bytes += chunk.length
    let i = chunk.indexOf(0x0a)
    while (i !== -1) {
      this.newlines += 1
      i = chunk.indexOf(0x0a, i + 1)
    }
    if (chunk.length > 0) this.lastByte = chunk[chunk.length - 1]
    done(null, chunk)
  }

  get lines(): number {
    return this.newlines + (this.bytes > 0 && this.lastByte !== 0x0a ? 1 : 0)
  }
}

/**
 * Writes the file part to its temporary file. Once a write fails (a full disk) or the guard stops the upload, the
 * file is closed and removed at once, freeing the disk while the client is still sending, and the rest of the part
 * is accepted and dropped: the parser goes on to the end of the body, so the client gets its answer instead of a
 * connection that stalls (a stream that stops taking data stops busboy, and with it the request).
 */
class TempFileSink extends Writable {
  /** Why the file was given up, once it was. */
  failure: { error: unknown } | null = null
  private fd: number | null = null
  private written = 0

  constructor(
    private readonly file: string,
    private readonly guard: UploadGuard,
  ) {
    super()
  }

  override _construct(done: (err?: Error | null) => void): void {
    fs.open(this.file, 'wx', 0o600, (err, fd) => {
      if (err) return this.giveUp(() => this.guard.writeFailed(err), done)
      this.fd = fd
      done()
    })
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, done: (err?: Error | null) => void): void {
    this.store(chunk, done)
  }

  override _writev(chunks: { chunk: Buffer }[], done: (err?: Error | null) => void): void {
    this.store(chunks.length === 1 ? chunks[0].chunk : Buffer.concat(chunks.map((c) => c.chunk)), done)
  }

  override _final(done: (err?: Error | null) => void): void {
    const fd = this.fd
    if (fd === null) return done()
    this.fd = null
    // Some file systems (NFS, quotas) report a full disk only when the file is closed.
    fs.close(fd, (err) => {
      if (err) return this.giveUp(() => this.guard.writeFailed(err), done)
      done()
    })
  }

  override _destroy(err: Error | null, done: (err?: Error | null) => void): void {
    const fd = this.fd
    this.fd = null
    if (fd === null) return done(err)
    fs.close(fd, () => done(err))
  }

  private store(chunk: Buffer, done: (err?: Error | null) => void): void {
    if (this.fd === null) return done()
    try {
      this.guard.grew(this.written + chunk.length)
    } catch (stop) {
      return this.giveUp(() => stop, done)
    }
    writeAll(this.fd, chunk, (err) => {
      if (err) return this.giveUp(() => this.guard.writeFailed(err), done)
      this.written += chunk.length
      done()
    })
  }

  /**
   * Stops writing, closes and removes the file, then names why (only then: the guard may log, and on a full disk
   * the log needs the room this file took) and goes on taking (and dropping) data.
   */
  private giveUp(why: () => unknown, done: () => void): void {
    const fd = this.fd
    this.fd = null
    const remove = (): void =>
      fs.rm(this.file, { force: true }, () => {
        this.failure = { error: why() }
        done()
      })
    if (fd === null) return remove()
    fs.close(fd, remove)
  }
}

/** fs.write until the whole buffer is written (a write may take only part of it). */
function writeAll(fd: number, buf: Buffer, done: (err: NodeJS.ErrnoException | null) => void, offset = 0): void {
  fs.write(fd, buf, offset, buf.length - offset, null, (err, n) => {
    if (err) return done(err)
    if (offset + n < buf.length) return writeAll(fd, buf, done, offset + n)
    done(null)
  })
}

/** The client's file name reduced to a plain name: no folders, no control characters, bounded length. */
export function cleanFilename(name: string | undefined): string {
  // eslint-disable-next-line no-control-regex
  const base = path.basename((name ?? '').replace(/\\/g, '/')).replace(/[\u0000-\u001f\u007f]/g, '').trim()
  return base.slice(0, 255) || 'upload'
}

/**
 * Streams a multipart/form-data request: the `file` part goes straight to `tempPath` (never buffered
 * whole), other parts are collected as fields. Either order of parts works, and so does a chunked body.
 * Throws ApiError for a malformed body or a file over the cap, and what `limits.guard` names when the file could
 * not be written or was stopped (the body is still read to its end, so that answer reaches the client); removes
 * the temporary file on any failure, including a client that goes away mid-upload.
 */
export async function receiveUpload(req: IncomingMessage, tempPath: string, limits: UploadLimits): Promise<ReceivedUpload> {
  const contentType = req.headers['content-type'] ?? ''
  if (!/^multipart\/form-data\b/i.test(contentType)) {
    throw badRequest(
      "Expected a multipart/form-data body with a 'file' part and a 'purpose' field.",
      'invalid_request',
      null,
    )
  }
  let parser: busboy.Busboy
  try {
    parser = busboy({
      headers: req.headers,
      limits: { fileSize: limits.maxFileBytes, files: 1, fields: 20, fieldSize: 64 * 1024, parts: 40 },
    })
  } catch (err) {
    throw badRequest(`Malformed multipart body: ${(err as Error).message}.`, 'invalid_request', null)
  }

  const fields: Record<string, string> = {}
  let filename: string | null = null
  let counter: LineCounter | null = null
  let tooLarge = false
  let problem: ApiError | null = null
  let fileWritten: Promise<void> | null = null
  let out: TempFileSink | null = null

  const parsed = new Promise<void>((resolve, reject) => {
    parser.on('file', (name, stream, info) => {
      if (name !== 'file' || filename !== null) {
        problem ??= badRequest(`Unexpected file part ${echo(name)}: send one file, in the part named 'file'.`, 'invalid_request', name)
        stream.resume()
        return
      }
      filename = cleanFilename(info.filename)
      counter = new LineCounter()
      stream.on('limit', () => {
        tooLarge = true
      })
      out = new TempFileSink(tempPath, limits.guard ?? NO_GUARD)
      fileWritten = pipeline(stream, counter, out)
      // Errors are collected when the parse ends; this only keeps an early one from going unhandled.
      fileWritten.catch(() => undefined)
    })
    parser.on('field', (name, value, info) => {
      if (info.valueTruncated) {
        problem ??= badRequest(`The field ${echo(name)} is too long.`, 'invalid_value', name)
        return
      }
      fields[name] = value
    })
    parser.on('filesLimit', () => {
      problem ??= badRequest("Send one file per upload, in the part named 'file'.", 'invalid_request', 'file')
    })
    parser.on('fieldsLimit', () => {
      problem ??= badRequest('The upload has too many fields.', 'invalid_request', null)
    })
    parser.on('partsLimit', () => {
      problem ??= badRequest('The upload has too many parts.', 'invalid_request', null)
    })
    parser.on('error', (err: Error) =>
      reject(badRequest(`Malformed multipart body: ${err.message}.`, 'invalid_request', null)),
    )
    parser.on('close', () => resolve())
    req.on('aborted', () => reject(new UploadAbortedError()))
    req.on('close', () => {
      if (!req.complete) reject(new UploadAbortedError())
    })
    req.on('error', () => reject(new UploadAbortedError()))
  })

  req.pipe(parser)
  try {
    await parsed
    if (fileWritten) await fileWritten
    const failure = (out as TempFileSink | null)?.failure
    if (failure) throw new WriteFailure(failure.error)
    if (problem) throw problem
    if (tooLarge) {
      throw badRequest(`File is too large.`, 'file_too_large', 'file')
    }
    if (filename === null || counter === null) {
      throw badRequest("Missing required parameter: 'file'.", 'missing_required_parameter', 'file')
    }
    const c = counter as LineCounter
    return { tempPath, filename, bytes: c.bytes, lineCount: c.lines, fields }
  } catch (err) {
    req.unpipe(parser)
    // The write stream opens its file asynchronously: close it first, or the file could appear after removal.
    if (out) await closeStream(out)
    fs.rmSync(tempPath, { force: true })
    if (err instanceof WriteFailure) throw err.error
    if (err instanceof ApiError || err instanceof UploadAbortedError) throw err
    throw badRequest(`The upload could not be read: ${(err as Error).message}.`, 'invalid_request', null)
  }
}

/** Carries the reason the file could not be stored through the clean-up, whatever its type. */
class WriteFailure extends Error {
  constructor(readonly error: unknown) {
    super('the uploaded file could not be stored')
  }
}

/** Destroys a write stream and resolves once its file descriptor is closed (bounded). */
function closeStream(stream: Writable): Promise<void> {
  return new Promise((resolve) => {
    if (stream.closed) return resolve()
    const timer = setTimeout(resolve, 10_000)
    stream.once('close', () => {
      clearTimeout(timer)
      resolve()
    })
    stream.destroy()
  })
}

/** The client went away before the upload was whole; there is nobody to answer. */
export class UploadAbortedError extends Error {
  constructor() {
    super('the client closed the connection before the upload was complete')
    this.name = 'UploadAbortedError'
  }
}
