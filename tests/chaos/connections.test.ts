import fs from 'node:fs'
import http from 'node:http'
import net from 'node:net'
import OpenAI from 'openai'
import { afterEach, describe, expect, it } from 'vitest'
import { Service } from '../../main/service'
import type { Settings } from '../../main/config/settings'
import { assertSchema } from '../helpers/openai-schemas'
import { eventually } from '../helpers/fake-engine'
import { tempDir, TEST_MODELS } from '../helpers/service'

/**
 * Chaos: a thousand connections at once, and clients that stall, against the real service over real sockets.
 * Every connection gets its answer, the service keeps serving an ordinary SDK call meanwhile, stalled clients
 * are cut off by the server without holding anyone else up, and sockets and file descriptors are given back.
 */

const KEY = 'chaos-connections-key-0123456789abcdef'
const FLOOD = 1000

interface Running {
  service: Service
  url: string
  client: OpenAI
}
const running: Service[] = []
afterEach(async () => {
  for (const s of running.splice(0)) await s.stop().catch(() => undefined)
})

/** The real service, built as startService builds it, with the options startService has no way to pass. */
async function start(overrides: Partial<Settings>, bodyRateWindowMs?: number): Promise<Running> {
  const service = new Service({
    env: {},
    overrides: { dataDir: tempDir('vbs-chaos-'), host: '127.0.0.1', port: 0, apiKey: KEY, modelsPath: TEST_MODELS, ...overrides },
    bodyRateWindowMs,
  })
  const url = await service.start()
  running.push(service)
  return { service, url, client: new OpenAI({ apiKey: KEY, baseURL: `${url}/v1`, maxRetries: 0, timeout: 30_000, fetch: closingFetch }) }
}

/**
 * fetch over node:http with one connection per request, closed after it: the SDK then leaves no kept-alive socket
 * in a pool, so "every connection was given back" can be checked exactly.
 */
function closingFetch(input: string | URL | Request, init: RequestInit = {}): Promise<Response> {
  return new Promise((resolve, reject) => {
    const url = new URL(typeof input === 'string' || input instanceof URL ? input : input.url)
    const headers = Object.fromEntries(new Headers(init.headers).entries())
    const req = http.request(url, { method: init.method ?? 'GET', headers: { ...headers, connection: 'close' }, agent: false, signal: init.signal ?? undefined }, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('error', reject)
      res.on('end', () => {
        const h = new Headers()
        for (const [k, v] of Object.entries(res.headers)) if (v !== undefined) h.set(k, Array.isArray(v) ? v.join(', ') : v)
        resolve(new Response(res.statusCode === 204 ? null : Buffer.concat(chunks), { status: res.statusCode, headers: h }))
      })
    })
    req.on('error', reject)
    if (init.body !== undefined && init.body !== null && typeof init.body !== 'string') return reject(new Error('closingFetch sends string bodies only'))
    req.end(init.body ?? undefined)
  })
}

/** Connections the service tracks as open (admitted or being refused). */
const openConnections = (s: Service): number => (s as unknown as { connections: Map<net.Socket, number> }).connections.size
const openFds = (): number => fs.readdirSync('/proc/self/fd').length

interface Conn {
  socket: net.Socket
  /** Everything received so far. */
  text: () => string
  connected: Promise<void>
  closed: Promise<void>
  isClosed: () => boolean
  closedAt: () => number
  /** Resolves with the first whole response (status line, headers, a body of its Content-Length). */
  response: () => Promise<{ status: number; headers: Record<string, string>; body: string }>
}

/** A raw connection; `first` is written as soon as it is connected. */
function connect(url: string, first = ''): Conn {
  const { hostname, port } = new URL(url)
  const socket = net.connect(Number(port), hostname)
  let received = ''
  let closedAt = 0
  const waiters: (() => void)[] = []
  socket.on('data', (d: Buffer) => {
    received += d.toString('latin1')
    for (const w of waiters.splice(0)) w()
  })
  socket.on('error', () => undefined) // a reset shows as a close; what was received is kept
  const connected = new Promise<void>((resolve, reject) => {
    socket.once('connect', () => {
      if (first) socket.write(first)
      resolve()
    })
    socket.once('close', () => reject(new Error('closed before it connected')))
  })
  connected.catch(() => undefined)
  const closed = new Promise<void>((resolve) =>
    socket.once('close', () => {
      closedAt = Date.now()
      for (const w of waiters.splice(0)) w()
      resolve()
    }),
  )
  const parse = (): { status: number; headers: Record<string, string>; body: string } | null => {
    const end = received.indexOf('\r\n\r\n')
    if (end === -1) return null
    const [statusLine, ...lines] = received.slice(0, end).split('\r\n')
    const headers: Record<string, string> = {}
    for (const l of lines) {
      const i = l.indexOf(':')
      if (i > 0) headers[l.slice(0, i).trim().toLowerCase()] = l.slice(i + 1).trim()
    }
    const length = Number(headers['content-length'] ?? NaN)
    const rest = Buffer.from(received.slice(end + 4), 'latin1')
    if (Number.isFinite(length) ? rest.length < length : closedAt === 0) return null
    return { status: Number(/^HTTP\/1\.1 (\d{3})/.exec(statusLine)?.[1] ?? 0), headers, body: rest.subarray(0, Number.isFinite(length) ? length : undefined).toString('utf8') }
  }
  const response = (): Promise<{ status: number; headers: Record<string, string>; body: string }> =>
    new Promise((resolve, reject) => {
      const check = (): void => {
        const r = parse()
        if (r) return resolve(r)
        if (closedAt !== 0) return reject(new Error(`closed without a whole response: ${JSON.stringify(received.slice(0, 200))}`))
        waiters.push(check)
      }
      check()
    })
  return {
    socket,
    text: () => received,
    connected,
    closed,
    isClosed: () => closedAt !== 0,
    closedAt: () => closedAt,
    response,
  }
}

/** Resolves with p's value, or rejects once `ms` pass (a bound on a wait, not a synchronisation). */
async function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what}: not within ${ms} ms`)), ms)))
  try {
    return await Promise.race([p, timeout])
  } finally {
    clearTimeout(timer)
  }
}

const getModels = (url: string): string => `GET /v1/models HTTP/1.1\r\nHost: ${new URL(url).host}\r\nAuthorization: Bearer ${KEY}\r\n\r\n`

/** Waits until the service tracks no connection and the process's descriptors are back near `fdsBefore`. */
async function expectReleased(s: Service, fdsBefore: number): Promise<void> {
  await eventually(() => openConnections(s) === 0, 'the service to have no connection open', 30_000)
  // A few descriptors may come and go for reasons of their own (the log, the runtime): "near" is a margin of 16.
  await eventually(() => openFds() <= fdsBefore + 16, `file descriptors back near ${fdsBefore} (now ${openFds()})`, 30_000)
}

describe(`${FLOOD} concurrent connections`, () => {
  it('are all answered 200 under raised caps, and an SDK call succeeds while they are open', async () => {
    const { service, url, client } = await start({ maxConnections: 2000, maxConnectionsPerClient: 2000 })
    const fdsBefore = openFds()
    const conns = Array.from({ length: FLOOD }, () => connect(url, getModels(url)))
    await within(Promise.all(conns.map((c) => c.connected)), 60_000, `${FLOOD} connections to connect`)
    const answers = await within(Promise.all(conns.map((c) => c.response())), 60_000, `answers on all ${FLOOD} connections`)
    const statuses = new Map<number, number>()
    for (const a of answers) statuses.set(a.status, (statuses.get(a.status) ?? 0) + 1)
    expect(Object.fromEntries(statuses)).toEqual({ 200: FLOOD })
    for (const a of answers) {
      const body = JSON.parse(a.body) as { object: string; data: { id: string }[] }
      expect(body.object).toBe('list')
      expect(body.data.map((m) => m.id)).toEqual(['test-model-a', 'test-model-b'])
    }
    // All of them still open (kept alive), and counted by the service.
    expect(conns.filter((c) => c.isClosed()).length).toBe(0)
    expect(openConnections(service)).toBeGreaterThanOrEqual(FLOOD)

    // While they are open: an ordinary SDK call, and a second request on some of the open connections.
    const started = Date.now()
    const models = await within(client.models.list(), 15_000, 'the SDK call during the flood')
    expect(models.data.map((m) => m.id)).toContain('test-model-a')
    expect(Date.now() - started).toBeLessThan(15_000)
    const again = conns.filter((_, i) => i % 100 === 0)
    const before = again.map((c) => c.text().length)
    again.forEach((c) => c.socket.write(getModels(url)))
    await within(
      eventually(() => again.every((c, i) => (c.text().slice(before[i]).match(/HTTP\/1\.1 200 /g) ?? []).length === 1 && c.text().slice(before[i]).includes('"test-model-b"')), 'second answers on kept-alive connections', 30_000),
      31_000,
      'second answers',
    )

    for (const c of conns) c.socket.destroy()
    await expectReleased(service, fdsBefore)
  })

  it('are admitted up to the per-client cap exactly; the rest get the 503 envelope, and the service recovers', async () => {
    const CAP = 300
    const { service, url, client } = await start({ maxConnections: 2000, maxConnectionsPerClient: CAP })
    const fdsBefore = openFds()
    const conns = Array.from({ length: FLOOD }, () => connect(url, getModels(url)))
    await within(Promise.all(conns.map((c) => c.connected.catch(() => undefined))), 60_000, `${FLOOD} connections to connect`)
    const answers = await within(Promise.all(conns.map((c) => c.response())), 60_000, `answers on all ${FLOOD} connections`)
    const ok = answers.filter((a) => a.status === 200)
    const refused = answers.filter((a) => a.status === 503)
    expect(ok.length + refused.length, `statuses: ${[...new Set(answers.map((a) => a.status))].join(', ')}`).toBe(FLOOD)
    // Admitted connections are held open, so exactly the cap got in.
    expect(ok.length).toBe(CAP)
    for (const r of refused) {
      expect(r.headers['content-type']).toMatch(/^application\/json/)
      expect(r.headers['retry-after']).toMatch(/^\d+$/)
      expect(r.headers.connection?.toLowerCase()).toBe('close')
      const body: unknown = JSON.parse(r.body)
      assertSchema('ErrorResponse', body)
      expect((body as { error: { code: string; message: string } }).error.code).toBe('too_many_connections')
      expect((body as { error: { code: string; message: string } }).error.message).toContain('VBS_MAX_CONNECTIONS_PER_CLIENT')
    }
    // The refused connections are closed by the server; the admitted ones stay open.
    await within(Promise.all(conns.filter((_, i) => answers[i].status === 503).map((c) => c.closed)), 30_000, 'the refused connections to be closed')
    expect(conns.filter((c, i) => answers[i].status === 200 && c.isClosed()).length).toBe(0)

    // Once the clients let go, an SDK call gets in again.
    for (const c of conns) c.socket.destroy()
    await eventually(async () => (await client.models.list().then((m) => m.data.length > 0).catch(() => false)) || null, 'an SDK call once the connections closed', 30_000)
    await expectReleased(service, fdsBefore)
  })
})

describe('stalled clients', () => {
  it('do not hold up others, and are closed by the server (headers timeout, body-rate guard)', async () => {
    const HEADERS_TIMEOUT_MS = 3000
    const { service, url, client } = await start(
      { headersTimeoutMs: HEADERS_TIMEOUT_MS, requestTimeoutMs: 6000, uploadMinBytesPerSecond: 1000, maxConnections: 2000, maxConnectionsPerClient: 2000 },
      1500,
    )
    const host = new URL(url).host
    const fdsBefore = openFds()
    const auth = `Authorization: Bearer ${KEY}\r\n`
    type Kind = 'half headers' | 'headers a byte at a time' | 'nothing sent' | 'JSON body a byte at a time' | 'upload body never sent'
    const stalled: { kind: Kind; conn: Conn; drip?: NodeJS.Timeout }[] = []
    for (let i = 0; i < 5; i++) {
      stalled.push({ kind: 'half headers', conn: connect(url, `GET /v1/models HTTP/1.1\r\nHost: ${host}\r\nAuthoriz`) })
      const slowHead = `POST /v1/batches HTTP/1.1\r\nHost: ${host}\r\n${auth}Content-Type: application/json\r\nContent-Length: 2\r\n\r\n{}`
      const trickle = connect(url, slowHead.slice(0, 1))
      let at = 1
      const drip = setInterval(() => trickle.socket.writable && at < slowHead.length && trickle.socket.write(slowHead[at++]), 200)
      stalled.push({ kind: 'headers a byte at a time', conn: trickle, drip })
      stalled.push({ kind: 'nothing sent', conn: connect(url) })
      const slowBody = connect(url, `POST /v1/batches HTTP/1.1\r\nHost: ${host}\r\n${auth}Content-Type: application/json\r\nContent-Length: 100000\r\n\r\n{"input_file_id":"`)
      const bodyDrip = setInterval(() => slowBody.socket.writable && slowBody.socket.write('x'), 100)
      stalled.push({ kind: 'JSON body a byte at a time', conn: slowBody, drip: bodyDrip })
      stalled.push({
        kind: 'upload body never sent',
        conn: connect(url, `POST /v1/files HTTP/1.1\r\nHost: ${host}\r\n${auth}Content-Type: multipart/form-data; boundary=b\r\nContent-Length: 10000000\r\n\r\n--b\r\n`),
      })
    }
    await within(Promise.all(stalled.map((s) => s.conn.connected)), 30_000, 'the stalled clients to connect')
    const stallStart = Date.now()

    // While they stall, other clients are served at once: fresh connections, concurrently, and the SDK.
    const quick = await within(
      Promise.all([
        ...Array.from({ length: 20 }, async () => {
          const c = connect(url, getModels(url))
          const r = await c.response()
          c.socket.destroy()
          return r.status
        }),
        client.models.list().then((m) => (m.data.length === 2 ? 200 : 0)),
        client.files.list().then(() => 200),
      ]),
      10_000,
      'requests while clients stall',
    )
    const servedIn = Date.now() - stallStart
    expect(quick).toEqual(Array(22).fill(200))
    // Served well before any stalled client could have been cut off: it was served while they stalled.
    expect(servedIn, 'other requests were answered promptly').toBeLessThan(HEADERS_TIMEOUT_MS - 500)
    expect(stalled.filter((s) => s.conn.isClosed()).map((s) => s.kind), 'stalled clients still open when the others were served').toEqual([])

    // Each stalled connection is closed by the server, within a bound.
    await within(Promise.all(stalled.map((s) => s.conn.closed)), 30_000, 'the server to close every stalled connection').catch((err: Error) => {
      throw new Error(`${err.message}; still open: ${stalled.filter((s) => !s.conn.isClosed()).map((s) => s.kind).join(', ')}`)
    })
    for (const s of stalled) if (s.drip) clearInterval(s.drip)
    for (const s of stalled) {
      const text = s.conn.text()
      if (s.kind === 'JSON body a byte at a time' || s.kind === 'upload body never sent') {
        // The body-rate guard answers with the envelope.
        expect(text, s.kind).toMatch(/^HTTP\/1\.1 408 /)
        expect(text, s.kind).toContain('"code":"request_too_slow"')
      } else {
        // Not cut before the headers timeout (a slow client is not dropped early) ...
        expect(s.conn.closedAt() - stallStart, `${s.kind}: closed after`).toBeGreaterThanOrEqual(HEADERS_TIMEOUT_MS - 1000)
        // ... and then the headers timeout: nothing for a client that sent nothing, else the 408 envelope; then the close.
        expect(text === '' || text.startsWith('HTTP/1.1 408 '), `${s.kind}: ${JSON.stringify(text.slice(0, 100))}`).toBe(true)
        if (text !== '') expect(text, s.kind).toContain('"code":"request_timeout"')
        if (s.kind !== 'nothing sent') expect(text, s.kind).not.toBe('')
      }
    }

    // The service is still fine, and everything was given back.
    expect((await client.models.list()).data.length).toBe(2)
    await expectReleased(service, fdsBefore)
  })
})
