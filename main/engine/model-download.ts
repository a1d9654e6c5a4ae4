import fs from 'node:fs'
import http from 'node:http'
import https from 'node:https'
import path from 'node:path'
import type { Logger } from 'pino'
import type { ServiceEvents } from '../events'
import { VERSION } from '../version'
import type { DownloadProgress } from './engine-types'

export const DEFAULT_HF_ENDPOINT = 'https://huggingface.co'

export interface ModelDownloadsOptions {
  /** `<data>/models`. */
  dir: string
  /** Hub base URL: Hugging Face by default; a mirror, or a local server in tests. */
  endpoint?: string
  /** HF token (from HF_TOKEN): sent as Bearer only to the endpoint's origin, never to the CDN it redirects to. */
  token?: string
  log: Logger
  events: ServiceEvents
  now?: () => number
  /** No byte (nor response) for this long aborts the attempt; the .part stays for the next resume. */
  stallTimeoutMs?: number
  /** Automatic resumes after a connection that broke once some bytes had arrived. */
  retries?: number
  /** Wait before such a resume (times the attempt number). */
  retryDelayMs?: number
  /** Free bytes on the disk holding `dir` (fs.statfs by default). */
  freeSpace?: (dir: string) => Promise<number>
}

export interface ModelRef {
  /** `user/repo` */
  repo: string
  /** Path of the file inside the repository, `/`-separated. */
  file: string
}

export type DownloadErrorKind = 'bad_ref' | 'network' | 'http' | 'size' | 'disk' | 'stalled' | 'aborted'

/** A model file could not be fetched; the message is for the user and says what to do. */
export class DownloadError extends Error {
  constructor(
    message: string,
    readonly kind: DownloadErrorKind,
    readonly status: number | null = null,
  ) {
    super(message)
    this.name = 'DownloadError'
  }
}

/** What `<final>.part.json` records, so a changed remote file is never spliced onto an old part. */
interface PartMeta {
  url: string
  etag: string | null
  lastModified: string | null
  total: number | null
}

interface Sample {
  t: number
  bytes: number
}

/** One file being fetched, shared by every caller waiting for it. */
interface Job {
  file: string
  url: string
  ref: string
  models: Set<string>
  received: number
  /** Where the current attempt started: a retry is worth it only when the attempt moved past it. */
  attemptFrom: number
  total: number | null
  samples: Sample[]
  lastEmit: number | null
  controller: AbortController
  waiters: number
  promise: Promise<string>
}

const MAX_REDIRECTS = 10
/** Events at most this often (plus the final one). */
const EMIT_INTERVAL_MS = 250
/** Rate smoothed over this window. */
const RATE_WINDOW_MS = 5_000
const SEGMENT = /^[A-Za-z0-9_][A-Za-z0-9_.+=@,()-]*$/
const MAX_REF_LENGTH = 1024

const isRedirect = (status: number): boolean => [301, 302, 303, 307, 308].includes(status)

/** A strong validator usable in If-Range: a strong ETag, else Last-Modified. */
function ifRange(meta: PartMeta): string | null {
  if (meta.etag && !meta.etag.startsWith('W/')) return meta.etag
  return meta.lastModified ?? null
}

function header(res: http.IncomingMessage, name: string): string | null {
  const v = res.headers[name]
  return typeof v === 'string' ? v : null
}

function parseContentRange(value: string | null): { start: number; end: number; total: number | null } | { unsatisfied: number } | null {
  if (!value) return null
  const m = /^bytes\s+(\d+)-(\d+)\/(\d+|\*)$/i.exec(value.trim())
  if (m) return { start: Number(m[1]), end: Number(m[2]), total: m[3] === '*' ? null : Number(m[3]) }
  const u = /^bytes\s+\*\/(\d+)$/i.exec(value.trim())
  return u ? { unsatisfied: Number(u[1]) } : null
}

function bytes(n: number): string {
  const units = ['KiB', 'MiB', 'GiB', 'TiB']
  let v = n
  let unit = ''
  for (const u of units) {
    if (v < 1024) break
    v /= 1024
    unit = u
  }
  return unit ? `${n} bytes (${v.toFixed(1)} ${unit})` : `${n} bytes`
}

async function statfsFree(dir: string): Promise<number> {
  const s = await fs.promises.statfs(dir)
  return Number(s.bavail) * Number(s.bsize)
}

async function removeIfThere(file: string): Promise<void> {
  await fs.promises.rm(file, { force: true })
}

/** Why a request failed, in words, from Node's error codes. */
function networkReason(err: unknown, url: URL): string {
  const code = (err as NodeJS.ErrnoException | null)?.code
  switch (code) {
    case 'ECONNREFUSED':
      return `connection refused by ${url.host}`
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return `cannot resolve ${url.hostname}: no network or no DNS`
    case 'ENETUNREACH':
    case 'EHOSTUNREACH':
      return `network unreachable for ${url.host}`
    case 'ETIMEDOUT':
      return `connection to ${url.host} timed out`
    case 'ECONNRESET':
      return `connection reset by ${url.host}`
    default: {
      const message = err instanceof Error ? err.message : String(err)
      return code ? `${code}: ${message}` : message
    }
  }
}

/** Thrown inside an attempt: the part does not belong to the remote file; start again from zero. */
class Restart extends Error {}

/**
 * Fetches `hf:` model files into `<data>/models/<user>/<repo>/<file>` the first time they are needed:
 * streamed to `<file>.part`, resumed with Range after a crash or a broken connection, renamed into place
 * only when the size matches what the server announced.
 */
export class ModelDownloads {
  private readonly dir: string
  private readonly endpoint: URL
  private readonly now: () => number
  private readonly stallTimeoutMs: number
  private readonly retries: number
  private readonly retryDelayMs: number
  private readonly freeSpace: (dir: string) => Promise<number>
  private readonly jobs = new Map<string, Job>()
  private readonly last = new Map<string, DownloadProgress>()

  constructor(private readonly opts: ModelDownloadsOptions) {
    this.dir = path.resolve(opts.dir)
    const endpoint = (opts.endpoint ?? DEFAULT_HF_ENDPOINT).replace(/\/+$/, '')
    let parsed: URL
    try {
      parsed = new URL(endpoint)
    } catch {
      throw new Error(`hub endpoint '${endpoint}' is not a URL`)
    }
    if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') throw new Error(`hub endpoint '${endpoint}' must be http:// or https://`)
    this.endpoint = parsed
    this.now = opts.now ?? Date.now
    this.stallTimeoutMs = opts.stallTimeoutMs ?? 60_000
    this.retries = opts.retries ?? 3
    this.retryDelayMs = opts.retryDelayMs ?? 2_000
    this.freeSpace = opts.freeSpace ?? statfsFree
  }

  /** Parses 'hf:user/repo/path/file.gguf'; throws a DownloadError naming the bad value otherwise. */
  static parseRef(ref: string): ModelRef {
    const bad = (why: string): DownloadError =>
      new DownloadError(`bad model reference '${ref}': ${why} (expected hf:<user>/<repo>/<file>.gguf, the file possibly in a folder)`, 'bad_ref')
    if (typeof ref !== 'string' || !ref.startsWith('hf:')) throw bad("it does not start with 'hf:'")
    if (ref.length > MAX_REF_LENGTH) throw bad(`longer than ${MAX_REF_LENGTH} characters`)
    const parts = ref.slice(3).split('/')
    if (parts.length < 3) throw bad('it needs a user, a repository and a file')
    for (const p of parts) {
      if (p === '') throw bad('empty path segment (absolute path or doubled /)')
      if (p === '.' || p === '..') throw bad(`'${p}' is not allowed in a path`)
      if (!SEGMENT.test(p)) throw bad(`'${p}' has characters other than letters, digits and _ . - + = @ , ( )`)
    }
    if (!/\.gguf$/i.test(parts[parts.length - 1])) throw bad('the file is not a .gguf')
    return { repo: `${parts[0]}/${parts[1]}`, file: parts.slice(2).join('/') }
  }

  /** Local path the file is (or will be) stored at: `<dir>/<user>/<repo>/<file>`. */
  localPath(ref: string): string {
    const { repo, file } = ModelDownloads.parseRef(ref)
    const target = path.resolve(this.dir, ...repo.split('/'), ...file.split('/'))
    // parseRef already refuses '..' and empty segments; this is the last line of defence.
    if (!target.startsWith(this.dir + path.sep)) throw new DownloadError(`bad model reference '${ref}': it points outside ${this.dir}`, 'bad_ref')
    return target
  }

  /** The hub URL of the file (before any redirect). */
  url(ref: string): string {
    const { repo, file } = ModelDownloads.parseRef(ref)
    const encoded = file.split('/').map(encodeURIComponent).join('/')
    return `${this.endpoint.href.replace(/\/+$/, '')}/${repo}/resolve/main/${encoded}`
  }

  /** Whether the file is complete on disk (only a complete file is ever renamed into place). */
  isPresent(ref: string): boolean {
    try {
      const s = fs.statSync(this.localPath(ref))
      return s.isFile() && s.size > 0
    } catch {
      return false
    }
  }

  /**
   * The local path, downloading first when needed. One download per file however many callers wait;
   * a caller's signal detaches that caller, and the download stops (its .part kept) once no caller waits.
   */
  async ensure(modelId: string, ref: string, signal?: AbortSignal): Promise<string> {
    const file = this.localPath(ref)
    if (this.isPresent(ref)) return file
    if (signal?.aborted) throw this.abortedError(modelId, file)
    let job = this.jobs.get(file)
    if (job?.controller.signal.aborted) {
      // Every earlier caller left and that download is winding down: let it close the .part first.
      await job.promise.catch(() => undefined)
      job = this.jobs.get(file)
    }
    if (this.isPresent(ref)) return file
    if (job) {
      job.models.add(modelId)
    } else {
      job = this.start(modelId, ref, file)
    }
    return this.wait(job, modelId, signal)
  }

  /** Current/last progress for a model id, or null. */
  progress(modelId: string): DownloadProgress | null {
    for (const job of this.jobs.values()) if (job.models.has(modelId)) return this.snapshot(job, modelId, 'downloading', null)
    return this.last.get(modelId) ?? null
  }

  all(): DownloadProgress[] {
    const out = new Map(this.last)
    for (const job of this.jobs.values()) for (const m of job.models) out.set(m, this.snapshot(job, m, 'downloading', null))
    return [...out.values()]
  }

  private start(modelId: string, ref: string, file: string): Job {
    const job: Job = {
      file,
      ref,
      url: this.url(ref),
      models: new Set([modelId]),
      received: 0,
      attemptFrom: 0,
      total: null,
      samples: [],
      lastEmit: null,
      controller: new AbortController(),
      waiters: 0,
      promise: Promise.resolve(file),
    }
    job.promise = this.run(job).finally(() => this.jobs.delete(file))
    // Waiters may all detach; the job's own rejection is then nobody's to handle.
    job.promise.catch(() => undefined)
    this.jobs.set(file, job)
    return job
  }

  private wait(job: Job, modelId: string, signal: AbortSignal | undefined): Promise<string> {
    job.waiters++
    if (!signal) return job.promise
    return new Promise<string>((resolve, reject) => {
      const onAbort = (): void => {
        job.waiters--
        if (job.waiters === 0) job.controller.abort()
        reject(this.abortedError(modelId, job.file))
      }
      signal.addEventListener('abort', onAbort, { once: true })
      job.promise.then(
        (v) => {
          signal.removeEventListener('abort', onAbort)
          resolve(v)
        },
        (e: unknown) => {
          signal.removeEventListener('abort', onAbort)
          reject(e)
        },
      )
    })
  }

  private abortedError(modelId: string, file: string): DownloadError {
    return new DownloadError(`the download of ${modelId} was stopped; what arrived is kept in ${file}.part and the download resumes from there next time`, 'aborted')
  }

  private async run(job: Job): Promise<string> {
    const model = [...job.models][0]
    const started = this.now()
    this.opts.log.info({ model, url: job.url, file: job.file }, 'model download starting')
    try {
      await fs.promises.mkdir(path.dirname(job.file), { recursive: true })
      let restarted = false
      for (let attempt = 0; ; attempt++) {
        try {
          await this.attempt(job)
          break
        } catch (err) {
          if (err instanceof Restart) {
            // Bounded: a second mismatch right after starting from zero means the server is inconsistent.
            if (restarted) throw this.failure(job, `the server's answers do not match each other (${err.message})`, 'network')
            restarted = true
            this.opts.log.info({ model, reason: err.message }, 'model download: partial file does not match the remote file, starting from zero')
            await this.discardPart(job.file)
            continue
          }
          const progressed = job.received > job.attemptFrom
          if (err instanceof DownloadError && err.kind === 'network' && progressed && attempt < this.retries && !job.controller.signal.aborted) {
            this.opts.log.warn({ model, attempt: attempt + 1, err: err.message }, 'model download interrupted, resuming')
            await this.delay(this.retryDelayMs * (attempt + 1), job.controller.signal)
            continue
          }
          throw err
        }
      }
      this.opts.log.info({ model, file: job.file, bytes: job.received, ms: this.now() - started }, 'model download complete')
      this.finish(job, 'done', null)
      return job.file
    } catch (err) {
      const error =
        err instanceof DownloadError
          ? err
          : job.controller.signal.aborted
            ? this.abortedError(model, job.file)
            : this.failure(job, err instanceof Error ? err.message : String(err), 'network')
      this.opts.log.warn({ model, url: job.url, err: error.message }, 'model download failed')
      this.finish(job, 'failed', error.message)
      throw error
    }
  }

  private delay(ms: number, signal: AbortSignal): Promise<void> {
    if (ms <= 0) return Promise.resolve()
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms)
      function done(): void {
        clearTimeout(timer)
        signal.removeEventListener('abort', done)
        resolve()
      }
      signal.addEventListener('abort', done, { once: true })
    })
  }

  /**
   * `could not download <model> from <url> (<reason>)[: <detail>]. [<advice> ]To install it by hand, download the
   * file and put it at <localPath>`
   */
  private failure(job: Job, reason: string, kind: DownloadErrorKind, status: number | null = null, advice = '', detail = ''): DownloadError {
    const model = [...job.models].join(', ')
    return new DownloadError(
      `could not download ${model} from ${job.url} (${reason})${detail ? `: ${detail}` : ''}.${advice ? ` ${advice}` : ''} To install it by hand, download the file and put it at ${job.file}`,
      kind,
      status,
    )
  }

  private async discardPart(file: string): Promise<void> {
    await removeIfThere(`${file}.part`)
    await removeIfThere(`${file}.part.json`)
  }

  /** The part we may continue, or null to start from zero (a part not provably of this file is removed). */
  private async readPart(job: Job): Promise<{ offset: number; meta: PartMeta } | null> {
    const part = `${job.file}.part`
    let size: number
    try {
      size = (await fs.promises.stat(part)).size
    } catch {
      await removeIfThere(`${part}.json`)
      return null
    }
    if (size === 0) return null
    let meta: PartMeta | null
    try {
      meta = JSON.parse(await fs.promises.readFile(`${part}.json`, 'utf8')) as PartMeta
    } catch {
      meta = null
    }
    const usable = meta !== null && meta.url === job.url && (meta.etag !== null || meta.lastModified !== null) && (meta.total === null || size <= meta.total)
    if (!usable || meta === null) {
      this.opts.log.info({ file: job.file, size }, 'model download: removing a partial file with no record of its origin')
      await this.discardPart(job.file)
      return null
    }
    return { offset: size, meta }
  }

  private async writeMeta(file: string, meta: PartMeta): Promise<void> {
    const target = `${file}.part.json`
    await fs.promises.writeFile(`${target}.tmp`, JSON.stringify(meta))
    await fs.promises.rename(`${target}.tmp`, target)
  }

  /** One HTTP exchange: resolves once the file is in place; throws DownloadError, or Restart. */
  private async attempt(job: Job): Promise<void> {
    const from = await this.readPart(job)
    const headers: Record<string, string> = { 'accept-encoding': 'identity', 'user-agent': `vllm-batch-server/${VERSION}` }
    if (from) {
      headers.range = `bytes=${from.offset}-`
      const validator = ifRange(from.meta)
      if (validator) headers['if-range'] = validator
    }
    job.received = from?.offset ?? 0
    job.attemptFrom = job.received
    job.total = from?.meta.total ?? null

    const attemptController = new AbortController()
    let stalled = false
    const watchdog = { timer: null as NodeJS.Timeout | null }
    const disarm = (): void => {
      if (watchdog.timer) clearTimeout(watchdog.timer)
      watchdog.timer = null
    }
    const arm = (): void => {
      disarm()
      watchdog.timer = setTimeout(() => {
        stalled = true
        attemptController.abort()
      }, this.stallTimeoutMs)
    }
    const onOuterAbort = (): void => attemptController.abort()
    job.controller.signal.addEventListener('abort', onOuterAbort, { once: true })
    if (job.controller.signal.aborted) attemptController.abort()

    let current = new URL(job.url)
    let bodyStarted = false
    let fh: fs.promises.FileHandle | null = null
    let meta: PartMeta | null = null
    const part = `${job.file}.part`
    const model = [...job.models][0]
    try {
      arm()
      const res = await this.follow(job, current, headers, attemptController.signal, (u) => (current = u))
      disarm()
      const status = res.statusCode ?? 0
      const etag = header(res, 'etag')
      const lastModified = header(res, 'last-modified')

      if (status === 416) {
        res.resume()
        const range = parseContentRange(header(res, 'content-range'))
        const total = range && 'unsatisfied' in range ? range.unsatisfied : null
        const sameFile = from !== null && (etag === null || from.meta.etag === null || etag === from.meta.etag)
        if (from && total !== null && total === from.offset && sameFile) {
          // The part was complete; the process died before renaming it.
          job.received = total
          job.total = total
          await fs.promises.rename(part, job.file)
          await removeIfThere(`${part}.json`)
          return
        }
        throw new Restart(`416 for bytes=${from?.offset ?? 0}- with a total of ${total ?? 'unknown'}`)
      }
      if (status === 404) {
        res.resume()
        throw this.failure(job, 'HTTP 404', 'http', 404, '', `the file does not exist on the hub: check the hf: reference '${job.ref}' (user, repository, folder and file name)`)
      }
      if (status === 401 || status === 403) {
        res.resume()
        const advice = this.opts.token
          ? `The token in HF_TOKEN has no access to this repository: accept its terms on the hub with that account (or check the hf: reference '${job.ref}').`
          : `The repository is gated or private, or the hf: reference '${job.ref}' is wrong: accept its terms on the hub, then set the HF_TOKEN variable to an access token and try again.`
        throw this.failure(job, `HTTP ${status}`, 'http', status, advice)
      }
      if (status !== 200 && status !== 206) {
        res.resume()
        throw this.failure(job, `HTTP ${status}${res.statusMessage ? ` ${res.statusMessage}` : ''}`, 'http', status)
      }

      let offset = 0
      let total: number | null
      if (status === 206) {
        const range = parseContentRange(header(res, 'content-range'))
        if (!from || !range || 'unsatisfied' in range) {
          res.destroy()
          throw new Restart(`unexpected 206 (${header(res, 'content-range') ?? 'no Content-Range'})`)
        }
        const changed =
          range.start !== from.offset ||
          (etag !== null && from.meta.etag !== null && etag !== from.meta.etag) ||
          (lastModified !== null && from.meta.lastModified !== null && lastModified !== from.meta.lastModified) ||
          (range.total !== null && from.meta.total !== null && range.total !== from.meta.total)
        if (changed) {
          res.destroy()
          throw new Restart(`the remote file changed (ETag ${from.meta.etag ?? '-'} -> ${etag ?? '-'}, range ${range.start}-${range.end}/${range.total ?? '*'})`)
        }
        offset = from.offset
        total = range.total ?? from.meta.total
        meta = from.meta
      } else {
        if (from) this.opts.log.info({ model, offset: from.offset }, 'model download: the server sent the whole file, starting from zero')
        const length = header(res, 'content-length')
        total = length !== null && /^\d+$/.test(length) ? Number(length) : null
        meta = { url: job.url, etag, lastModified, total }
      }
      job.received = offset
      job.attemptFrom = offset
      job.total = total
      // A restart from zero (or a smaller resume point) makes the old samples meaningless for the rate.
      if (job.samples.length > 0 && job.samples[job.samples.length - 1].bytes > offset) job.samples = []

      if (total !== null) {
        const needed = total - offset
        const free = await this.freeSpace(path.dirname(job.file))
        if (needed > free) {
          res.destroy()
          throw new DownloadError(
            `not enough disk space to download ${[...job.models].join(', ')}: it needs ${bytes(needed)} more in ${path.dirname(job.file)} but only ${bytes(free)} are free. Free some space and try again, or put the file there by hand at ${job.file}`,
            'disk',
          )
        }
      }
      if (status === 200) await this.writeMeta(job.file, meta!)

      fh = await fs.promises.open(part, offset > 0 ? 'r+' : 'w')
      bodyStarted = true
      this.sample(job)
      this.emit(job, true)
      let position = offset
      arm()
      for await (const chunk of res as AsyncIterable<Buffer>) {
        // The watchdog times the network only: a slow disk is not a stalled connection.
        disarm()
        await this.write(job, fh, chunk, position)
        arm()
        position += chunk.length
        job.received = position
        this.sample(job)
        this.emit(job, false)
      }
      disarm()
      if (total !== null && position !== total) throw await this.sizeMismatch(job, position, total, meta!)
      await fh.sync()
      await fh.close()
      fh = null
      await fs.promises.rename(part, job.file)
      await removeIfThere(`${part}.json`)
    } catch (err) {
      if (err instanceof DownloadError || err instanceof Restart) throw err
      if (job.controller.signal.aborted) throw this.abortedError(model, job.file)
      const of = job.total !== null ? ` of ${job.total}` : ''
      if (stalled) {
        const reason = `no data for ${Math.round(this.stallTimeoutMs / 100) / 10} s${bodyStarted ? ` after ${job.received}${of} bytes` : ''}`
        throw this.failure(job, reason, 'stalled', null, bodyStarted ? await this.keepOrDrop(job, meta) : '')
      }
      if (bodyStarted) {
        throw this.failure(job, `the connection broke after ${job.received}${of} bytes`, 'network', null, await this.keepOrDrop(job, meta))
      }
      throw this.failure(job, networkReason(err, current), 'network')
    } finally {
      if (watchdog.timer) clearTimeout(watchdog.timer)
      job.controller.signal.removeEventListener('abort', onOuterAbort)
      if (fh) await fh.close().catch(() => undefined)
    }
  }

  private async sizeMismatch(job: Job, got: number, total: number, meta: PartMeta): Promise<DownloadError> {
    if (got < total) return this.failure(job, `the server sent ${got} of the ${total} bytes it announced`, 'size', null, await this.keepOrDrop(job, meta))
    // Longer than announced: nothing in it can be trusted.
    await this.discardPart(job.file)
    return this.failure(job, `received ${got} bytes but the server announced ${total}`, 'size', null, 'The partial file was removed.')
  }

  /**
   * After an interrupted body: keep the part when a later Range request can prove it is the same remote
   * file (an ETag or Last-Modified in the sidecar); otherwise remove it. Returns the sentence for the user.
   */
  private async keepOrDrop(job: Job, meta: PartMeta | null): Promise<string> {
    if (meta && (meta.etag !== null || meta.lastModified !== null) && job.received > 0) {
      return `The ${job.received} bytes received are kept in ${job.file}.part and the download resumes from there next time.`
    }
    await this.discardPart(job.file)
    return 'The partial file was removed: the server gives no ETag or Last-Modified to resume it safely.'
  }

  private async write(job: Job, fh: fs.promises.FileHandle, chunk: Buffer, position: number): Promise<void> {
    try {
      let done = 0
      while (done < chunk.length) {
        const { bytesWritten } = await fh.write(chunk, done, chunk.length - done, position + done)
        done += bytesWritten
      }
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code
      await fh.close().catch(() => undefined)
      await this.discardPart(job.file)
      if (code === 'ENOSPC' || code === 'EDQUOT') {
        throw new DownloadError(
          `not enough disk space to download ${[...job.models].join(', ')}: the disk holding ${path.dirname(job.file)} filled up after ${position} bytes${job.total !== null ? ` of ${job.total}` : ''}. The partial file was removed; free some space and try again, or put the file there by hand at ${job.file}`,
          'disk',
        )
      }
      throw new DownloadError(`could not write ${job.file}.part (${code ?? String(err)}); the partial file was removed`, 'disk')
    }
  }

  /** GET with redirects followed; the token goes only to the endpoint's origin. */
  private async follow(job: Job, start: URL, headers: Record<string, string>, signal: AbortSignal, onUrl: (u: URL) => void): Promise<http.IncomingMessage> {
    let url = start
    for (let hop = 0; hop <= MAX_REDIRECTS; hop++) {
      onUrl(url)
      const h = { ...headers }
      if (this.opts.token && url.origin === this.endpoint.origin) h.authorization = `Bearer ${this.opts.token}`
      const res = await request(url, h, signal)
      const status = res.statusCode ?? 0
      const location = header(res, 'location')
      if (!isRedirect(status) || !location) return res
      res.resume()
      url = new URL(location, url)
      // Signed CDN URLs carry credentials in the query: log the host only.
      this.opts.log.debug({ model: [...job.models][0], status, host: url.host }, 'model download redirected')
      if (url.protocol !== 'http:' && url.protocol !== 'https:') throw this.failure(job, `redirected to an unsupported ${url.protocol} URL`, 'network')
    }
    throw this.failure(job, `more than ${MAX_REDIRECTS} redirects`, 'network')
  }

  private sample(job: Job): void {
    const t = this.now()
    const last = job.samples[job.samples.length - 1]
    if (last && t - last.t < EMIT_INTERVAL_MS) return
    job.samples.push({ t, bytes: job.received })
    // Keep the newest sample at or before the window's start, so the rate spans the whole window.
    while (job.samples.length > 2 && job.samples[1].t <= t - RATE_WINDOW_MS) job.samples.shift()
  }

  private rate(job: Job): number {
    const first = job.samples[0]
    if (!first) return 0
    const dt = this.now() - first.t
    return dt > 0 ? Math.round(((job.received - first.bytes) * 1000) / dt) : 0
  }

  private snapshot(job: Job, model: string, state: DownloadProgress['state'], error: string | null): DownloadProgress {
    const bytesPerSecond = this.rate(job)
    const remaining = job.total !== null ? Math.max(0, job.total - job.received) : null
    return {
      model,
      file: job.file,
      url: job.url,
      receivedBytes: job.received,
      totalBytes: job.total,
      bytesPerSecond,
      etaSeconds: state === 'done' ? 0 : remaining !== null && bytesPerSecond > 0 ? Math.ceil(remaining / bytesPerSecond) : null,
      state,
      error,
    }
  }

  private emit(job: Job, force: boolean): void {
    const t = this.now()
    if (!force && job.lastEmit !== null && t - job.lastEmit < EMIT_INTERVAL_MS) return
    job.lastEmit = t
    for (const m of job.models) this.opts.events.emit('model.download', this.snapshot(job, m, 'downloading', null))
  }

  private finish(job: Job, state: 'done' | 'failed', error: string | null): void {
    for (const m of job.models) {
      const p = this.snapshot(job, m, state, error)
      this.last.set(m, p)
      this.opts.events.emit('model.download', p)
    }
  }
}

/** One GET; resolves with the response head, the body unread. */
function request(url: URL, headers: Record<string, string>, signal: AbortSignal): Promise<http.IncomingMessage> {
  const mod = url.protocol === 'https:' ? https : http
  return new Promise((resolve, reject) => {
    const req = mod.get(url, { headers, signal, agent: false }, resolve)
    req.once('error', reject)
  })
}
