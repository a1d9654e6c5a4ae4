import { spawn } from 'node:child_process'
import crypto from 'node:crypto'
import fs from 'node:fs'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import path from 'node:path'
import { pathToFileURL } from 'node:url'
import pino from 'pino'
import { afterEach, describe, expect, it } from 'vitest'
import type { DownloadProgress } from '../../main/engine/engine-types'
import { DownloadError, ModelDownloads, type ModelDownloadsOptions } from '../../main/engine/model-download'
import { ServiceEvents } from '../../main/events'
import { ROOT, tempDir } from '../helpers/service'

const REF = 'hf:test-user/test-repo/sub/model-Q4_K_M.gguf'
const RESOLVE = '/test-user/test-repo/resolve/main/sub/model-Q4_K_M.gguf'
const SIZE = 4 * 1024 * 1024
const CUT = 1024 * 1024
const CONTENT = crypto.randomBytes(SIZE)

interface Recorded {
  url: string
  headers: http.IncomingHttpHeaders
}

type Handler = (req: http.IncomingMessage, res: http.ServerResponse) => void

interface TestServer {
  url: string
  requests: Recorded[]
  /** Requests for the file itself (not redirect targets). */
  resolves: () => Recorded[]
  handle: Handler
  close: () => Promise<void>
}

const servers: TestServer[] = []
const dirs: string[] = []

afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()))
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true })
})

async function startServer(handle: Handler = (req, res) => serveFile(req, res, { content: CONTENT, etag: '"v1"' })): Promise<TestServer> {
  const requests: Recorded[] = []
  const srv: TestServer = {
    url: '',
    requests,
    resolves: () => requests.filter((r) => r.url === RESOLVE),
    handle,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  }
  const server = http.createServer((req, res) => {
    requests.push({ url: req.url ?? '', headers: req.headers })
    srv.handle(req, res)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  srv.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  servers.push(srv)
  return srv
}

interface Served {
  content: Buffer
  etag: string | null
}

interface ServeOptions {
  /** Answer 200 with the whole file whatever the Range header says. */
  ignoreRange?: boolean
  /** Honour Range even when If-Range names another version. */
  ignoreIfRange?: boolean
  /** Send the body only up to this absolute offset, then call onStop. */
  stopAt?: number
  onStop?: (res: http.ServerResponse) => void
}

/** A static file with Range / If-Range support, like the hub's CDN. */
function serveFile(req: http.IncomingMessage, res: http.ServerResponse, f: Served, o: ServeOptions = {}): void {
  const total = f.content.length
  const headers: http.OutgoingHttpHeaders = { 'accept-ranges': 'bytes', 'content-type': 'application/octet-stream' }
  if (f.etag) headers.etag = f.etag
  const range = /^bytes=(\d+)-$/.exec(req.headers.range ?? '')
  const ifRange = req.headers['if-range']
  let start = 0
  if (range && !o.ignoreRange && (o.ignoreIfRange || !ifRange || ifRange === f.etag)) {
    start = Number(range[1])
    if (start >= total) {
      res.writeHead(416, { ...headers, 'content-range': `bytes */${total}` })
      res.end()
      return
    }
    res.writeHead(206, { ...headers, 'content-length': total - start, 'content-range': `bytes ${start}-${total - 1}/${total}` })
  } else {
    res.writeHead(200, { ...headers, 'content-length': total })
  }
  if (o.stopAt === undefined) {
    res.end(f.content.subarray(start))
    return
  }
  res.write(f.content.subarray(start, Math.max(start, o.stopAt)), () => o.onStop?.(res))
}

/** Polls a condition (never a fixed sleep): resolves with its first truthy value. */
async function until<T>(check: () => T, what: string, timeoutMs = 30_000): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const v = check()
    if (v) return v as NonNullable<T>
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 10))
  }
}

const sizeOf = (file: string): number => {
  try {
    return fs.statSync(file).size
  } catch {
    return -1
  }
}

/** Cuts the connection once the client has written everything sent so far to its .part. */
const cutWhenOnDisk = (part: string, bytes: number) => (res: http.ServerResponse) => {
  void until(() => sizeOf(part) === bytes, `${bytes} bytes in ${part}`).then(() => res.socket?.destroy())
}

interface Harness {
  dl: ModelDownloads
  dir: string
  events: DownloadProgress[]
  logs: string[]
  file: string
  part: string
}

function harness(endpoint: string, opts: Partial<ModelDownloadsOptions> = {}): Harness {
  const dir = tempDir('vbs-dl-')
  dirs.push(dir)
  const logs: string[] = []
  const log = pino({ level: 'debug' }, { write: (s: string) => void logs.push(s) })
  const events = new ServiceEvents()
  const seen: DownloadProgress[] = []
  events.on('model.download', (p) => seen.push(p))
  const dl = new ModelDownloads({ dir: path.join(dir, 'models'), endpoint, log, events, ...opts })
  const file = dl.localPath(REF)
  return { dl, dir, events: seen, logs, file, part: `${file}.part` }
}

const identical = (file: string, content: Buffer = CONTENT): boolean => fs.readFileSync(file).equals(content)

async function failure(p: Promise<unknown>): Promise<DownloadError> {
  const err = await p.then(
    () => null,
    (e: unknown) => e,
  )
  expect(err).toBeInstanceOf(DownloadError)
  return err as DownloadError
}

describe('model downloads (hf: GGUF files)', () => {
  it('downloads into <dir>/<user>/<repo>/<file>, byte-identical, with progress events ending in done; concurrent callers share one request', async () => {
    const srv = await startServer()
    const h = harness(srv.url)
    expect(h.file).toBe(path.join(h.dir, 'models', 'test-user', 'test-repo', 'sub', 'model-Q4_K_M.gguf'))
    expect(h.dl.isPresent(REF)).toBe(false)

    const [a, b, c] = await Promise.all([h.dl.ensure('m', REF), h.dl.ensure('m', REF), h.dl.ensure('other-id', REF)])
    expect([a, b, c]).toEqual([h.file, h.file, h.file])
    expect(identical(h.file)).toBe(true)
    expect(srv.resolves()).toHaveLength(1)
    expect(srv.resolves()[0].headers['accept-encoding']).toBe('identity')
    expect(fs.existsSync(h.part)).toBe(false)
    expect(fs.existsSync(`${h.part}.json`)).toBe(false)
    expect(h.dl.isPresent(REF)).toBe(true)

    const mine = h.events.filter((e) => e.model === 'm')
    expect(mine.length).toBeGreaterThanOrEqual(2)
    for (let i = 1; i < mine.length; i++) expect(mine[i].receivedBytes).toBeGreaterThanOrEqual(mine[i - 1].receivedBytes)
    expect(mine.at(-1)).toMatchObject({ state: 'done', receivedBytes: SIZE, totalBytes: SIZE, error: null, file: h.file, url: `${srv.url}${RESOLVE}` })
    expect(h.dl.progress('other-id')).toMatchObject({ state: 'done', receivedBytes: SIZE })
    expect(h.dl.all().map((p) => p.model).sort()).toEqual(['m', 'other-id'])

    // Present: no request at all.
    await h.dl.ensure('m', REF)
    expect(srv.resolves()).toHaveLength(1)
  })

  it('reports rate and ETA from the injected clock, at most one event per 250 ms of it', async () => {
    const CH = 128 * 1024
    const N = 8
    const content = crypto.randomBytes(CH * N)
    const live: { res: http.ServerResponse | null } = { res: null }
    const srv = await startServer((_req, res) => {
      res.writeHead(200, { 'content-length': CH * N, etag: '"p"', 'accept-ranges': 'bytes' })
      res.flushHeaders()
      live.res = res
    })
    let clock = 1_000
    const h = harness(srv.url, { now: () => clock })
    const done = h.dl.ensure('m', REF)
    // The first event is emitted as the body starts, with the first rate sample at t=1000.
    await until(() => h.events.length === 1, 'the first progress event')
    expect(h.events[0]).toMatchObject({ state: 'downloading', receivedBytes: 0, totalBytes: CH * N, bytesPerSecond: 0, etaSeconds: null })

    for (let k = 1; k <= N; k++) {
      clock += 1_000
      live.res!.write(content.subarray((k - 1) * CH, k * CH))
      const p = await until(() => {
        const q = h.dl.progress('m')
        return q && q.receivedBytes === k * CH ? q : null
      }, `${k * CH} bytes`)
      if (k <= 5) {
        // All samples still inside the 5 s window: exactly one chunk per second.
        expect(p.bytesPerSecond).toBe(CH)
        expect(p.etaSeconds).toBe(N - k)
      } else {
        // Older samples left the window: still about one chunk per second.
        expect(p.bytesPerSecond).toBeGreaterThanOrEqual(CH)
        expect(p.bytesPerSecond).toBeLessThan(CH * 1.25)
      }
    }
    live.res!.end()
    await done
    expect(identical(h.file, content)).toBe(true)
    const downloading = h.events.filter((e) => e.state === 'downloading')
    // One at the start, then one per second of the clock however many reads each chunk took.
    expect(downloading).toHaveLength(N + 1)
    for (let i = 1; i < downloading.length; i++) expect(downloading[i].receivedBytes).toBeGreaterThan(downloading[i - 1].receivedBytes)
    expect(h.events.at(-1)).toMatchObject({ state: 'done', receivedBytes: CH * N, etaSeconds: 0 })
    expect(h.events).toHaveLength(N + 2)
  })

  it('resumes a broken download with Range: bytes=N- and If-Range, byte-identical', async () => {
    const srv = await startServer()
    const h = harness(srv.url, { retries: 0 })
    srv.handle = (req, res) => serveFile(req, res, { content: CONTENT, etag: '"v1"' }, { stopAt: CUT, onStop: cutWhenOnDisk(h.part, CUT) })
    const err = await failure(h.dl.ensure('m', REF))
    expect(err.kind).toBe('network')
    expect(err.message).toContain(`could not download m from ${srv.url}${RESOLVE} (the connection broke after ${CUT} of ${SIZE} bytes)`)
    expect(err.message).toContain(`kept in ${h.part}`)
    expect(err.message).toContain(`put it at ${h.file}`)
    expect(sizeOf(h.part)).toBe(CUT)
    expect(fs.existsSync(h.file)).toBe(false)
    expect(h.dl.progress('m')).toMatchObject({ state: 'failed', receivedBytes: CUT, error: err.message })

    srv.handle = (req, res) => serveFile(req, res, { content: CONTENT, etag: '"v1"' })
    await h.dl.ensure('m', REF)
    expect(srv.resolves()).toHaveLength(2)
    expect(srv.resolves()[1].headers).toMatchObject({ range: `bytes=${CUT}-`, 'if-range': '"v1"' })
    expect(identical(h.file)).toBe(true)
    expect(fs.existsSync(h.part)).toBe(false)
    // The rate counts only what this attempt fetched, so the first event starts from the resume point.
    const resumed = h.events.filter((e) => e.state === 'downloading').at(-1)!
    expect(resumed.receivedBytes).toBeGreaterThanOrEqual(CUT)
  })

  it('resumes on its own within one ensure() when the connection breaks after some bytes', async () => {
    const srv = await startServer()
    const h = harness(srv.url, { retries: 2, retryDelayMs: 0 })
    let first = true
    srv.handle = (req, res) => {
      const opts = first ? { stopAt: CUT, onStop: cutWhenOnDisk(h.part, CUT) } : {}
      first = false
      serveFile(req, res, { content: CONTENT, etag: '"v1"' }, opts)
    }
    await h.dl.ensure('m', REF)
    expect(identical(h.file)).toBe(true)
    expect(srv.resolves().map((r) => r.headers.range ?? null)).toEqual([null, `bytes=${CUT}-`])
    expect(h.logs.join('')).toContain('model download interrupted, resuming')
  })

  it('starts again from zero when the server ignores Range (200)', async () => {
    const srv = await startServer()
    const h = harness(srv.url, { retries: 0 })
    srv.handle = (req, res) => serveFile(req, res, { content: CONTENT, etag: '"v1"' }, { stopAt: CUT, onStop: cutWhenOnDisk(h.part, CUT) })
    await failure(h.dl.ensure('m', REF))
    srv.handle = (req, res) => serveFile(req, res, { content: CONTENT, etag: '"v1"' }, { ignoreRange: true })
    await h.dl.ensure('m', REF)
    expect(srv.resolves()[1].headers.range).toBe(`bytes=${CUT}-`)
    expect(identical(h.file)).toBe(true)
  })

  it('starts again from zero when the remote file changed: If-Range answered with 200, or a 206 with another ETag', async () => {
    const v2 = crypto.randomBytes(SIZE + 12345)
    for (const ignoreIfRange of [false, true]) {
      const srv = await startServer()
      const h = harness(srv.url, { retries: 0 })
      srv.handle = (req, res) => serveFile(req, res, { content: CONTENT, etag: '"v1"' }, { stopAt: CUT, onStop: cutWhenOnDisk(h.part, CUT) })
      await failure(h.dl.ensure('m', REF))
      srv.handle = (req, res) => serveFile(req, res, { content: v2, etag: '"v2"' }, { ignoreIfRange })
      await h.dl.ensure('m', REF)
      expect(identical(h.file, v2)).toBe(true)
      const ranges = srv.resolves().map((r) => [r.headers.range ?? null, r.headers['if-range'] ?? null])
      // A server honouring If-Range sends the new file at once; otherwise its 206 is refused and we ask again.
      expect(ranges).toEqual(ignoreIfRange ? [[null, null], [`bytes=${CUT}-`, '"v1"'], [null, null]] : [[null, null], [`bytes=${CUT}-`, '"v1"']])
    }
  })

  it('a service killed mid-download leaves a .part that a new instance completes with a Range request', async () => {
    const srv = await startServer()
    const dir = tempDir('vbs-dl-')
    dirs.push(dir)
    const models = path.join(dir, 'models')
    const probe = new ModelDownloads({ dir: models, endpoint: srv.url, log: pino({ enabled: false }), events: new ServiceEvents() })
    const part = `${probe.localPath(REF)}.part`
    // The first answer stops after CUT bytes and stays open: the child is killed while it waits for more.
    srv.handle = (req, res) => serveFile(req, res, { content: CONTENT, etag: '"v1"' }, { stopAt: CUT })
    const moduleUrl = pathToFileURL(path.join(ROOT, 'main', 'engine', 'model-download.ts')).href
    const eventsUrl = pathToFileURL(path.join(ROOT, 'main', 'events.ts')).href
    // The project is CommonJS: tsx hands a .ts module to import() as its exports, possibly under default.
    const script = [
      `const load = async (u) => { const m = await import(u); return m.default ?? m }`,
      `const { ModelDownloads } = await load(${JSON.stringify(moduleUrl)})`,
      `const { ServiceEvents } = await load(${JSON.stringify(eventsUrl)})`,
      `const { default: pino } = await import('pino')`,
      `const dl = new ModelDownloads({ dir: process.env.DL_DIR, endpoint: process.env.DL_ENDPOINT, log: pino(pino.destination(2)), events: new ServiceEvents() })`,
      `await dl.ensure('m', process.env.DL_REF)`,
    ].join('\n')
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      cwd: ROOT,
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', DL_DIR: models, DL_ENDPOINT: srv.url, DL_REF: REF },
      stdio: ['ignore', 'ignore', 'pipe'],
    })
    let stderr = ''
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()))
    let exited = false
    const exit = new Promise<NodeJS.Signals | null>((resolve) =>
      child.once('exit', (_code, signal) => {
        exited = true
        resolve(signal)
      }),
    )
    try {
      await until(() => {
        if (exited) throw new Error(`the downloading child exited early:\n${stderr}`)
        return sizeOf(part) === CUT
      }, `${CUT} bytes in the child's .part`)
    } finally {
      child.kill('SIGKILL')
    }
    expect(await exit).toBe('SIGKILL')
    expect(sizeOf(part)).toBe(CUT)
    expect(fs.existsSync(`${part}.json`)).toBe(true)

    srv.handle = (req, res) => serveFile(req, res, { content: CONTENT, etag: '"v1"' })
    const events = new ServiceEvents()
    const seen: DownloadProgress[] = []
    events.on('model.download', (p) => seen.push(p))
    const again = new ModelDownloads({ dir: models, endpoint: srv.url, log: pino({ enabled: false }), events })
    const file = await again.ensure('m', REF)
    expect(srv.resolves()).toHaveLength(2)
    expect(srv.resolves()[1].headers).toMatchObject({ range: `bytes=${CUT}-`, 'if-range': '"v1"' })
    expect(identical(file)).toBe(true)
    expect(seen[0]).toMatchObject({ state: 'downloading', receivedBytes: CUT, totalBytes: SIZE })
    expect(seen.at(-1)).toMatchObject({ state: 'done', receivedBytes: SIZE })
  })

  it('a complete .part that was never renamed is finished by the 416 answer, without fetching it again', async () => {
    const srv = await startServer()
    const h = harness(srv.url)
    fs.mkdirSync(path.dirname(h.file), { recursive: true })
    fs.writeFileSync(h.part, CONTENT)
    fs.writeFileSync(`${h.part}.json`, JSON.stringify({ url: h.dl.url(REF), etag: '"v1"', lastModified: null, total: SIZE }))
    await h.dl.ensure('m', REF)
    expect(srv.resolves()).toHaveLength(1)
    expect(srv.resolves()[0].headers.range).toBe(`bytes=${SIZE}-`)
    expect(identical(h.file)).toBe(true)
    expect(fs.existsSync(`${h.part}.json`)).toBe(false)
  })

  it('fewer bytes than Content-Length: fails naming both sizes, no final file (the part kept only when it can be resumed safely)', async () => {
    for (const etag of ['"v1"', null]) {
      const srv = await startServer()
      const h = harness(srv.url, { retries: 0 })
      const sent = SIZE - 1000
      srv.handle = (req, res) => serveFile(req, res, { content: CONTENT, etag }, { stopAt: sent, onStop: cutWhenOnDisk(h.part, sent) })
      const err = await failure(h.dl.ensure('m', REF))
      expect(err.message).toContain(`${sent} of ${SIZE} bytes`)
      expect(err.message).toContain(`put it at ${h.file}`)
      expect(fs.existsSync(h.file)).toBe(false)
      if (etag) {
        expect(sizeOf(h.part)).toBe(sent)
      } else {
        expect(err.message).toContain('The partial file was removed')
        expect(fs.existsSync(h.part)).toBe(false)
      }
    }
  })

  it('no network: a closed port names the URL and where to put the file by hand', async () => {
    const closed = await startServer()
    const endpoint = closed.url
    await closed.close()
    servers.splice(servers.indexOf(closed), 1)
    const h = harness(endpoint)
    const err = await failure(h.dl.ensure('m', REF))
    expect(err.kind).toBe('network')
    expect(err.message).toBe(
      `could not download m from ${endpoint}${RESOLVE} (connection refused by ${endpoint.slice('http://'.length)}). To install it by hand, download the file and put it at ${h.file}`,
    )
    expect(h.events.at(-1)).toMatchObject({ state: 'failed', error: err.message })
  })

  it('HTTP 404 says to check the reference; 401/403 point at HF_TOKEN', async () => {
    let status = 404
    const srv = await startServer((_req, res) => {
      res.writeHead(status, { 'content-type': 'text/plain' })
      res.end('nope')
    })
    const h = harness(srv.url)
    const notFound = await failure(h.dl.ensure('m', REF))
    expect(notFound).toMatchObject({ kind: 'http', status: 404 })
    expect(notFound.message).toContain('(HTTP 404)')
    expect(notFound.message).toContain(`(HTTP 404): the file does not exist on the hub: check the hf: reference '${REF}'`)
    expect(notFound.message).toContain(`put it at ${h.file}`)

    status = 401
    const gated = await failure(h.dl.ensure('m', REF))
    expect(gated).toMatchObject({ kind: 'http', status: 401 })
    expect(gated.message).toContain('gated')
    expect(gated.message).toContain('set the HF_TOKEN variable')

    status = 403
    const withToken = harness(srv.url, { token: 'hf_not_enough' })
    const denied = await failure(withToken.dl.ensure('m', REF))
    expect(denied.message).toContain('(HTTP 403)')
    expect(denied.message).toContain('The token in HF_TOKEN has no access')
    expect(withToken.logs.join('')).not.toContain('hf_not_enough')
    expect(denied.message).not.toContain('hf_not_enough')
  })

  it('follows a 302 to another path; the token goes to the endpoint only, never to a CDN origin, and no secret is logged', async () => {
    const srv = await startServer((req, res) => {
      if (req.url === RESOLVE) {
        res.writeHead(302, { location: '/cdn/blob?sig=1' })
        res.end()
      } else serveFile(req, res, { content: CONTENT, etag: '"v1"' })
    })
    const h = harness(srv.url, { token: 'hf_secret_token' })
    await h.dl.ensure('m', REF)
    expect(identical(h.file)).toBe(true)
    expect(srv.requests.map((r) => r.url)).toEqual([RESOLVE, '/cdn/blob?sig=1'])
    // Same origin as the endpoint: the token follows.
    expect(srv.requests.map((r) => r.headers.authorization)).toEqual(['Bearer hf_secret_token', 'Bearer hf_secret_token'])

    const cdn = await startServer((req, res) => serveFile(req, res, { content: CONTENT, etag: '"v1"' }))
    const hub = await startServer((req, res) => {
      res.writeHead(302, { location: `${cdn.url}/blob?X-Amz-Signature=s3cr3t` })
      res.end()
    })
    const h2 = harness(hub.url, { token: 'hf_secret_token' })
    await h2.dl.ensure('m', REF)
    expect(identical(h2.file)).toBe(true)
    expect(hub.requests[0].headers.authorization).toBe('Bearer hf_secret_token')
    expect(cdn.requests).toHaveLength(1)
    expect(cdn.requests[0].headers.authorization).toBeUndefined()
    const logs = [...h.logs, ...h2.logs].join('')
    expect(logs).toContain('model download redirected')
    expect(logs).not.toContain('hf_secret_token')
    expect(logs).not.toContain('s3cr3t')
  })

  it('refuses bad references with a message naming them, before any request', async () => {
    const srv = await startServer()
    const h = harness(srv.url)
    const bad = [
      'hf:onlyuser',
      'hf:user/repo',
      'hf:a/b/../../etc/passwd',
      'hf:/etc/passwd.gguf',
      'hf:user/repo//abs.gguf',
      'hf:user/repo:main/file.gguf',
      'hf:user/repo/model.bin',
      'hf:user/repo/..\\x.gguf',
      'user/repo/file.gguf',
      '/abs/file.gguf',
    ]
    for (const ref of bad) {
      expect(() => ModelDownloads.parseRef(ref), ref).toThrow(`bad model reference '${ref}'`)
      const err = await failure(h.dl.ensure('m', ref))
      expect(err.kind).toBe('bad_ref')
    }
    expect(srv.requests).toHaveLength(0)
    expect(ModelDownloads.parseRef('hf:Qwen/Qwen2.5-0.5B-Instruct-GGUF/qwen2.5-0.5b-instruct-q4_k_m.gguf')).toEqual({
      repo: 'Qwen/Qwen2.5-0.5B-Instruct-GGUF',
      file: 'qwen2.5-0.5b-instruct-q4_k_m.gguf',
    })
    expect(ModelDownloads.parseRef('hf:u/r/Q4_K_M/model-00001-of-00002.gguf')).toEqual({ repo: 'u/r', file: 'Q4_K_M/model-00001-of-00002.gguf' })
  })

  it('a stalled connection fails clearly and keeps the .part for the next resume', async () => {
    const srv = await startServer((req, res) => serveFile(req, res, { content: CONTENT, etag: '"v1"' }, { stopAt: CUT }))
    const h = harness(srv.url, { stallTimeoutMs: 1000, retries: 0 })
    const err = await failure(h.dl.ensure('m', REF))
    expect(err.kind).toBe('stalled')
    expect(err.message).toContain('(no data for 1 s after')
    expect(err.message).toContain(`put it at ${h.file}`)
    const kept = sizeOf(h.part)
    expect(kept).toBeGreaterThan(0)
    expect(err.message).toContain(`The ${kept} bytes received are kept`)

    srv.handle = (req, res) => serveFile(req, res, { content: CONTENT, etag: '"v1"' })
    await h.dl.ensure('m', REF)
    expect(srv.resolves()[1].headers.range).toBe(`bytes=${kept}-`)
    expect(identical(h.file)).toBe(true)
  })

  it('checks free space before starting and names both sizes; a full disk while writing removes the .part', async () => {
    const srv = await startServer()
    const h = harness(srv.url, { freeSpace: () => Promise.resolve(1000) })
    const err = await failure(h.dl.ensure('m', REF))
    expect(err.kind).toBe('disk')
    expect(err.message).toContain(`needs ${SIZE} bytes (4.0 MiB) more`)
    expect(err.message).toContain('only 1000 bytes are free')
    expect(fs.existsSync(h.part)).toBe(false)
    expect(fs.existsSync(h.file)).toBe(false)
  })

  it.skipIf(!fs.existsSync('/dev/full'))('ENOSPC while writing: a clear error and the .part removed', async () => {
    const srv = await startServer()
    const h = harness(srv.url)
    fs.mkdirSync(path.dirname(h.file), { recursive: true })
    // /dev/full answers every write with ENOSPC: a real full disk without needing one.
    fs.symlinkSync('/dev/full', h.part)
    const err = await failure(h.dl.ensure('m', REF))
    expect(err.kind).toBe('disk')
    expect(err.message).toContain('not enough disk space to download m')
    expect(err.message).toContain('filled up after 0 bytes')
    expect(() => fs.lstatSync(h.part)).toThrow()
    expect(fs.existsSync(h.file)).toBe(false)
  })

  it('an abort detaches its caller; the download stops (part kept) only when no caller waits', async () => {
    const held: { res: http.ServerResponse | null } = { res: null }
    const srv = await startServer((req, res) =>
      serveFile(req, res, { content: CONTENT, etag: '"v1"' }, { stopAt: CUT, onStop: (r) => (held.res = r) }),
    )
    const h = harness(srv.url)
    const a = new AbortController()
    const first = h.dl.ensure('m', REF, a.signal)
    const second = h.dl.ensure('m', REF)
    await until(() => held.res && sizeOf(h.part) === CUT, 'the first MiB on disk')
    a.abort()
    expect(await failure(first)).toMatchObject({ kind: 'aborted' })
    held.res!.end(CONTENT.subarray(CUT))
    await expect(second).resolves.toBe(h.file)
    expect(identical(h.file)).toBe(true)
    expect(srv.resolves()).toHaveLength(1)

    // A lone caller's abort stops the download; the part stays and resumes.
    const h2 = harness(srv.url)
    held.res = null
    const b = new AbortController()
    const lone = h2.dl.ensure('m', REF, b.signal)
    await until(() => held.res && sizeOf(h2.part) === CUT, 'the first MiB on disk')
    b.abort()
    const err = await failure(lone)
    expect(err.kind).toBe('aborted')
    expect(err.message).toContain(`${h2.file}.part`)
    await until(() => h2.dl.progress('m')?.state === 'failed', 'the download to wind down')
    expect(sizeOf(h2.part)).toBe(CUT)
    srv.handle = (req, res) => serveFile(req, res, { content: CONTENT, etag: '"v1"' })
    await h2.dl.ensure('m', REF)
    expect(srv.resolves().at(-1)!.headers.range).toBe(`bytes=${CUT}-`)
    expect(identical(h2.file)).toBe(true)
  })
})
