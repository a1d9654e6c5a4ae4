import fs from 'node:fs'
import http from 'node:http'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { Service } from '../../main/service'
import type { Settings } from '../../main/config/settings'
import { listDir, startService, tempDir, TEST_MODELS, type TestService } from '../helpers/service'
import { eventually, fakeServices, processGroup } from '../helpers/fake-engine'

/** Services started by a test; stopped after it. */
const running: TestService[] = []
afterEach(async () => {
  for (const t of running.splice(0)) await t.stop().catch(() => undefined)
})
async function service(overrides: Partial<Settings> = {}, env: NodeJS.ProcessEnv = {}, dataDir = tempDir()): Promise<TestService> {
  const t = await startService(overrides, dataDir, env)
  running.push(t)
  return t
}

/** A service with a short averaging window for the body-rate watchdog (startService has no such option). */
async function serviceWithRateWindow(windowMs: number, overrides: Partial<Settings>): Promise<{ url: string; key: string; dataDir: string }> {
  const dataDir = tempDir()
  const s = new Service({
    env: {},
    overrides: { dataDir, host: '127.0.0.1', port: 0, apiKey: 'test-key-that-is-long-enough-0123456789', modelsPath: TEST_MODELS, ...overrides },
    bodyRateWindowMs: windowMs,
  })
  const url = await s.start()
  running.push({ stop: () => s.stop() } as TestService)
  return { url, key: s.apiKey, dataDir }
}

interface RawExchange {
  socket: net.Socket
  /** Everything the server sent so far. */
  text: () => string
  /** Resolves when the server has closed the connection (or it was reset). */
  closed: Promise<void>
}

/** Opens a raw connection and writes `head` (and an optional start of the body); nothing more is sent. */
function raw(url: string, head: string, options: { localAddress?: string; host?: string } = {}): Promise<RawExchange> {
  const { hostname, port } = new URL(url)
  return new Promise((resolve, reject) => {
    const socket = net.connect({ port: Number(port), host: options.host ?? hostname, localAddress: options.localAddress }, () => {
      socket.write(head)
      resolve({ socket, text: () => received, closed })
    })
    let received = ''
    socket.on('data', (d: Buffer) => (received += d.toString('utf8')))
    const closed = new Promise<void>((r) => socket.once('close', () => r()))
    socket.once('error', (err) => (socket.connecting ? reject(err) : undefined))
  })
}

/** Resolves true if `p` settles within `ms`, false otherwise (a bound, not a synchronisation). */
async function within(p: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<boolean>((r) => (timer = setTimeout(() => r(false), ms)))
  const result = await Promise.race([p.then(() => true), timeout])
  clearTimeout(timer)
  return result
}

/** A plain HTTP request with full control of Host and the local address. */
function request(
  url: string,
  init: { method?: string; path: string; headers?: Record<string, string>; body?: string; localAddress?: string },
): Promise<{ status: number; headers: http.IncomingHttpHeaders; json: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const req = http.request(`${url}${init.path}`, { method: init.method ?? 'GET', headers: init.headers, localAddress: init.localAddress, agent: false }, (res) => {
      let text = ''
      res.on('data', (d: Buffer) => (text += d.toString('utf8')))
      res.on('end', () => {
        let json: Record<string, unknown> = {}
        try {
          json = JSON.parse(text) as Record<string, unknown>
        } catch {
          // not JSON
        }
        resolve({ status: res.statusCode ?? 0, headers: res.headers, json })
      })
    })
    req.on('error', reject)
    req.end(init.body)
  })
}

const errorOf = (json: Record<string, unknown>): { message: string; type: string; code: string | null; param: string | null } =>
  json.error as { message: string; type: string; code: string | null; param: string | null }

describe('Host header (DNS rebinding)', () => {
  it("answers 421 to a host that is not this machine's, before auth and /health, and closes the connection", async () => {
    const t = await service({ allowedHosts: 'batch.example.lan' })
    const port = new URL(t.url).port
    for (const host of ['evil.example', `evil.example:${port}`, `rebind.attacker.test:${port}`]) {
      for (const p of ['/health', '/v1/models', '/']) {
        const res = await request(t.url, { path: p, headers: { host, authorization: `Bearer ${t.apiKey}` } })
        expect([host, p, res.status]).toEqual([host, p, 421])
        expect(res.headers.connection).toBe('close')
        expect(errorOf(res.json)).toMatchObject({ type: 'invalid_request_error', code: 'misdirected_request', param: null })
        expect(errorOf(res.json).message).toContain('VBS_ALLOWED_HOSTS')
      }
    }
    for (const host of [`localhost:${port}`, `127.0.0.1:${port}`, `[::1]:${port}`, `${os.hostname()}:${port}`, `${os.hostname()}.local`, `batch.example.lan:${port}`]) {
      const res = await request(t.url, { path: '/v1/models', headers: { host, authorization: `Bearer ${t.apiKey}` } })
      expect([host, res.status]).toEqual([host, 200])
    }
  })
})

describe('/health without the key', () => {
  it('says only whether the service is up and its version; the key gets the whole document', async () => {
    const t = await service()
    const open = (await (await fetch(`${t.url}/health`)).json()) as Record<string, unknown>
    expect(Object.keys(open).sort()).toEqual(['problems', 'status', 'version'])
    expect(['ok', 'degraded']).toContain(open.status)
    const wrong = (await (await fetch(`${t.url}/health`, { headers: { authorization: 'Bearer nope' } })).json()) as Record<string, unknown>
    expect(Object.keys(wrong).sort()).toEqual(['problems', 'status', 'version'])
    const full = (await (await t.api('/health')).json()) as Record<string, unknown>
    expect(Object.keys(full).sort()).toEqual(['disk', 'engine', 'gpu', 'limits', 'problems', 'queue', 'runner', 'status', 'uptime_s', 'version'])
  })
})

describe('connections', () => {
  it('answers a 401 before the body is read and closes the socket, even with a huge Content-Length never sent', async () => {
    const t = await service()
    const host = new URL(t.url).host
    const cases: [string, string, number][] = [
      ['POST /v1/files', '', 401],
      ['POST /v1/batches', `authorization: Bearer ${t.apiKey}\r\ncontent-type: application/json\r\n`, 413],
      ['POST /v1/nothing-here', `authorization: Bearer ${t.apiKey}\r\n`, 404],
    ]
    for (const [line, extra, status] of cases) {
      const x = await raw(t.url, `${line} HTTP/1.1\r\nHost: ${host}\r\n${extra}content-type: multipart/form-data; boundary=b\r\ncontent-length: 1000000000\r\n\r\n`)
      expect(await within(x.closed, 20_000), `${line}: the server closes the connection`).toBe(true)
      expect(x.text()).toMatch(new RegExp(`^HTTP/1\\.1 ${status} `))
      expect(x.text().toLowerCase()).toContain('connection: close')
    }
  })

  it('caps connections per client address and in total, answering 503 at once, and lets clients in again as others close', async () => {
    const t = await service({ maxConnectionsPerClient: 2, maxConnections: 4 })
    const host = new URL(t.url).host
    const get = `GET /health HTTP/1.1\r\nHost: ${host}\r\n\r\n`
    // Kept-alive connections that have been served: each is open and counted.
    const open = async (localAddress: string): Promise<RawExchange> => {
      const x = await raw(t.url, get, { localAddress })
      await eventually(() => x.text().includes('"status"'), `an answer to ${localAddress}`, 20_000)
      return x
    }
    const a1 = await open('127.0.0.31')
    await open('127.0.0.31')
    const over = await raw(t.url, get, { localAddress: '127.0.0.31' })
    expect(await within(over.closed, 20_000)).toBe(true)
    expect(over.text()).toMatch(/^HTTP\/1\.1 503 /)
    expect(over.text()).toContain('VBS_MAX_CONNECTIONS_PER_CLIENT')
    expect(over.text().toLowerCase()).toContain('retry-after: ')

    await open('127.0.0.32') // another client is let in
    await open('127.0.0.33') // four open: the total
    const full = await raw(t.url, get, { localAddress: '127.0.0.34' })
    expect(await within(full.closed, 20_000)).toBe(true)
    expect(full.text()).toMatch(/^HTTP\/1\.1 503 /)
    expect(full.text()).toContain('VBS_MAX_CONNECTIONS')

    a1.socket.destroy()
    await eventually(async () => {
      const again = await raw(t.url, get, { localAddress: '127.0.0.31' })
      await eventually(() => again.text().length > 0, 'an answer', 20_000)
      const ok = again.text().startsWith('HTTP/1.1 200 ')
      if (!ok) again.socket.destroy()
      return ok
    }, 'a free place after a connection closed', 20_000)
  })

  it('cuts off an upload and a JSON body that trickle in below the minimum rate, with 408, and removes the partial upload', async () => {
    const s = await serviceWithRateWindow(500, { uploadMinBytesPerSecond: 1000 })
    const host = new URL(s.url).host
    const tmp = path.join(s.dataDir, 'files', '.tmp')
    for (const [line, type, length] of [
      ['POST /v1/files', 'multipart/form-data; boundary=b', 10_000_000],
      ['POST /v1/batches', 'application/json', 100_000],
    ] as const) {
      const x = await raw(s.url, `${line} HTTP/1.1\r\nHost: ${host}\r\nauthorization: Bearer ${s.key}\r\ncontent-type: ${type}\r\ncontent-length: ${length}\r\n\r\n`)
      const start = type.startsWith('multipart')
        ? '--b\r\nContent-Disposition: form-data; name="purpose"\r\n\r\nbatch\r\n--b\r\nContent-Disposition: form-data; name="file"; filename="a.jsonl"\r\n\r\n'
        : '{"input_file_id":"'
      x.socket.write(start)
      // A few bytes now and then: far below 1000 bytes/s.
      const drip = setInterval(() => x.socket.writable && x.socket.write('x'), 100)
      const cut = await within(x.closed, 20_000)
      clearInterval(drip)
      expect(cut, `${line}: the slow body is cut off`).toBe(true)
      expect(x.text()).toMatch(/^HTTP\/1\.1 408 /)
      expect(x.text()).toContain('"code":"request_too_slow"')
      expect(x.text()).toContain('VBS_UPLOAD_MIN_BYTES_PER_SECOND')
    }
    await eventually(() => listDir(tmp).length === 0, 'the partial upload to be removed', 20_000)
  })

  it('lets an upload through that keeps the minimum rate', async () => {
    const s = await serviceWithRateWindow(300, { uploadMinBytesPerSecond: 1000 })
    const line = '{"custom_id":"a","method":"POST","url":"/v1/chat/completions","body":{"model":"test-model-a","messages":[]}}\n'
    const body = `--b\r\nContent-Disposition: form-data; name="purpose"\r\n\r\nbatch\r\n--b\r\nContent-Disposition: form-data; name="file"; filename="a.jsonl"\r\n\r\n${line.repeat(40)}\r\n--b--\r\n`
    const x = await raw(s.url, `POST /v1/files HTTP/1.1\r\nHost: ${new URL(s.url).host}\r\nauthorization: Bearer ${s.key}\r\ncontent-type: multipart/form-data; boundary=b\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n`)
    // About 4 KB/s, in pieces, for over a second: several windows.
    for (let i = 0; i < body.length; i += 400) {
      x.socket.write(body.slice(i, i + 400))
      await new Promise((r) => setTimeout(r, 100))
    }
    await eventually(() => x.text().includes('"object":"file"'), 'the file object', 20_000)
    expect(x.text()).toMatch(/^HTTP\/1\.1 200 /)
    x.socket.destroy()
  })
})

describe('data folder', () => {
  it('is made private (0700) at every start, not only when it is created', async () => {
    const dir = tempDir()
    fs.chmodSync(dir, 0o755)
    await service({}, {}, dir)
    expect(fs.statSync(dir).mode & 0o777).toBe(0o700)
  })
})

/** This machine's first non-loopback IPv4 address: how the LAN reaches it. */
function lanAddress(): string | null {
  for (const list of Object.values(os.networkInterfaces())) {
    for (const info of list ?? []) if (info.family === 'IPv4' && !info.internal) return info.address
  }
  return null
}
const LAN = lanAddress()
const ADMIN_KEY = 'admin-key-for-the-tests-0123456789abcdef'

describe.skipIf(LAN === null)(`admin actions from the LAN (through ${LAN ?? 'no non-loopback IPv4 address: skipped'})`, () => {
  const adminRoutes: [string, string, string?][] = [
    ['PUT', '/api/settings', '{"chunk_size":1234}'],
    ['POST', '/api/settings/api-key'],
    ['POST', '/api/engine/start', '{}'],
    ['POST', '/api/engine/switch', '{"model":"test-model-b"}'],
    ['POST', '/api/engine/stop'],
    ['POST', '/api/models/test-model-a/download'],
    ['POST', '/api/batches/pause'],
    ['POST', '/api/batches/resume'],
  ]

  it('refuses settings, the key, the engine and pausing without the admin key, with 403 saying how; reading works, without the key in it', async () => {
    const t = await service({ host: '0.0.0.0' }, { VBS_ADMIN_KEY: ADMIN_KEY })
    const lanUrl = `http://${LAN}:${t.service.port}`
    const auth = { authorization: `Bearer ${t.apiKey}`, 'content-type': 'application/json' }
    for (const [method, p, body] of adminRoutes) {
      const res = await request(lanUrl, { method, path: p, headers: auth, body })
      expect([method, p, res.status]).toEqual([method, p, 403])
      expect(errorOf(res.json)).toMatchObject({ type: 'invalid_request_error', code: 'admin_required' })
      expect(errorOf(res.json).message).toContain('x-admin-key')
    }
    const wrong = await request(lanUrl, { method: 'POST', path: '/api/batches/pause', headers: { ...auth, 'x-admin-key': 'not-the-admin-key' } })
    expect(wrong.status).toBe(403)
    expect(errorOf(wrong.json).message).toContain('Incorrect admin key')
    expect(t.service.scheduler.paused).toBe(false)
    expect(t.service.settings.chunkSize).toBe(5000)

    const view = await request(lanUrl, { path: '/api/settings', headers: auth })
    expect(view.status).toBe(200)
    expect(view.json).toMatchObject({ api_key: null, admin: false, chunk_size: 5000 })
    expect((await request(lanUrl, { path: '/api/engine', headers: auth })).status).toBe(200)
    // X-Forwarded-For claiming loopback changes nothing.
    const forwarded = await request(lanUrl, { method: 'POST', path: '/api/batches/pause', headers: { ...auth, 'x-forwarded-for': '127.0.0.1' } })
    expect(forwarded.status).toBe(403)

    // A settings.json broken by hand: the LAN is told so without the machine's folders.
    fs.writeFileSync(path.join(t.dataDir, 'settings.json'), '{ "chunkSize": ')
    const broken = await request(lanUrl, { path: '/api/settings', headers: auth })
    expect(broken.status).toBe(500)
    expect(errorOf(broken.json)).toMatchObject({ code: 'invalid_settings_file' })
    expect(errorOf(broken.json).message).toContain("settings.json (in the service's data folder) is not valid JSON")
    expect(errorOf(broken.json).message).not.toContain(t.dataDir)
  })

  it('allows them from the LAN with the admin key, and from loopback without it', async () => {
    const t = await service({ host: '0.0.0.0' }, { VBS_ADMIN_KEY: ADMIN_KEY })
    const lanUrl = `http://${LAN}:${t.service.port}`
    const admin = { authorization: `Bearer ${t.apiKey}`, 'content-type': 'application/json', 'x-admin-key': ADMIN_KEY }
    const put = await request(lanUrl, { method: 'PUT', path: '/api/settings', headers: admin, body: '{"chunk_size":1234}' })
    expect(put.status).toBe(200)
    expect(t.service.settings.chunkSize).toBe(1234)
    expect((await request(lanUrl, { method: 'POST', path: '/api/batches/pause', headers: admin })).status).toBe(200)
    expect(t.service.scheduler.paused).toBe(true)
    const view = await request(lanUrl, { path: '/api/settings', headers: admin })
    expect(view.json).toMatchObject({ api_key: t.apiKey, admin: true })
    // The API key is still needed first: the admin key alone does not let a client in.
    expect((await request(lanUrl, { method: 'POST', path: '/api/batches/resume', headers: { 'x-admin-key': ADMIN_KEY } })).status).toBe(401)

    const resume = await t.api('/api/batches/resume', { method: 'POST' }) // loopback: no admin key needed
    expect(resume.status).toBe(200)
    expect(t.service.scheduler.paused).toBe(false)
    expect(((await (await t.api('/api/settings')).json()) as { api_key: string; admin: boolean })).toMatchObject({ api_key: t.apiKey, admin: true })
  })

  it('without VBS_ADMIN_KEY the LAN cannot change anything, and is told how to allow it', async () => {
    const t = await service({ host: '0.0.0.0' })
    const lanUrl = `http://${LAN}:${t.service.port}`
    const res = await request(lanUrl, { method: 'POST', path: '/api/engine/stop', headers: { authorization: `Bearer ${t.apiKey}`, 'x-admin-key': ADMIN_KEY } })
    expect(res.status).toBe(403)
    expect(errorOf(res.json).code).toBe('admin_required')
    expect(errorOf(res.json).message).toContain('VBS_ADMIN_KEY')
    expect((await t.api('/api/batches/pause', { method: 'POST' })).status).toBe(200)
  })
})

describe('event streams', () => {
  it('drops a client that stops reading, keeps serving the others, and caps how many are open', async () => {
    const t = await service({ maxEventStreams: 2 })
    const host = new URL(t.url).host
    // A client that reads everything.
    const controller = new AbortController()
    const reader = (await t.api('/api/events', { signal: controller.signal })).body!.getReader()
    let seen = ''
    const reading = (async () => {
      const decoder = new TextDecoder()
      for (;;) {
        const { done, value } = await reader.read().catch(() => ({ done: true, value: undefined }))
        if (done) return
        seen = (seen + decoder.decode(value)).slice(-200_000)
      }
    })()
    // A client that reads nothing at all.
    const stalled = await raw(t.url, `GET /api/events HTTP/1.1\r\nHost: ${host}\r\nauthorization: Bearer ${t.apiKey}\r\n\r\n`)
    stalled.socket.pause()
    await eventually(() => seen.includes('event: hello'), 'the first stream to open', 20_000)

    const third = await t.api('/api/events')
    expect(third.status).toBe(503)
    expect(third.headers.get('retry-after')).toMatch(/^\d+$/)
    expect(((await third.json()) as { error: { code: string } }).error.code).toBe('too_many_event_streams')

    // Events of 16 KiB, paced so that a reading client keeps up, until the stalled one is dropped (its place
    // frees: a new stream opens). Bounded at 256 MiB.
    const pad = 'x'.repeat(16 * 1024)
    let dropped = false
    for (let i = 0; i < 16_384 && !dropped; i++) {
      t.service.events.emit('file.deleted', { id: `pad-${i}`, pad } as never)
      await new Promise((r) => setTimeout(r, 1))
      if (i % 64 === 63) {
        const probe = await t.api('/api/events')
        if (probe.status === 200) {
          dropped = true
          await probe.body!.cancel()
        } else await probe.text()
      }
    }
    expect(dropped, 'the stalled client was dropped').toBe(true)
    t.service.events.emit('file.deleted', { id: 'after-the-drop' } as never)
    await eventually(() => seen.includes('after-the-drop'), 'the reading client to get events after the drop', 20_000)
    controller.abort()
    await reading
  })
})

describe('bodies waiting for a model load', () => {
  const services = fakeServices()
  afterEach(services.cleanup)

  it('holds a bounded number and size of bodies while the model loads, answering 503 at once past either bound', async () => {
    const { t, fake } = await services.boot({ FAKE_VLLM_LOAD_MS: '120000' }, { maxWaitingBodies: 2, maxWaitingBodyBytes: 4096 })
    const waitingGauge = async (): Promise<number> => {
      const text = await (await t.api('/metrics')).text()
      return Number(/^vbs_realtime_requests_waiting (\d+)$/m.exec(text)?.[1] ?? -1)
    }
    const chat = (content: string, signal?: AbortSignal): Promise<Response> =>
      t.api('/v1/chat/completions', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'test-model-a', messages: [{ role: 'user', content }] }),
        signal,
      })
    const aborts = [new AbortController(), new AbortController()]
    const big = chat('x'.repeat(3000), aborts[0].signal).catch(() => null)
    await eventually(async () => (await waitingGauge()) === 1, 'the first body to wait', 30_000)

    const tooBig = await chat('y'.repeat(2000))
    expect(tooBig.status).toBe(503)
    expect(tooBig.headers.get('retry-after')).toMatch(/^\d+$/)
    const e1 = ((await tooBig.json()) as { error: { code: string; message: string } }).error
    expect(e1.code).toBe('engine_busy')
    expect(e1.message).toContain('VBS_MAX_WAITING_BODY_BYTES')

    const small = chat('hello', aborts[1].signal).catch(() => null)
    await eventually(async () => (await waitingGauge()) === 2, 'the second body to wait', 30_000)
    const tooMany = await chat('hi')
    expect(tooMany.status).toBe(503)
    expect(((await tooMany.json()) as { error: { message: string } }).error.message).toContain('VBS_MAX_WAITING_BODIES')

    // Clients that leave are counted out.
    for (const a of aborts) a.abort()
    await Promise.all([big, small])
    await eventually(async () => (await waitingGauge()) === 0, 'the waiting bodies to be counted out', 30_000)
    // The load would hold the service's stop for its two minutes: end it (the engine then fails to start).
    await eventually(() => fake.launches().length > 0, 'the engine to be launched', 30_000)
    for (const l of fake.launches()) for (const pid of processGroup(l.pid)) process.kill(pid, 'SIGKILL')
    await eventually(async () => ((await (await t.api('/api/engine')).json()) as { state: string }).state !== 'starting', 'the load to end', 30_000)
  })
})
