import crypto from 'node:crypto'
import fs from 'node:fs'
import net from 'node:net'
import path from 'node:path'
import { toFile } from 'openai'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { eventually, fakeServices } from '../helpers/fake-engine'
import { assertSchema } from '../helpers/openai-schemas'
import { multipart, sendTruncated } from '../helpers/raw-http'
import { jsonl, waitForBatch, type TestService } from '../helpers/service'

/**
 * Chaos: malformed requests against every route of the real service (real Koa, real SQLite, the fake engine),
 * over real HTTP. Each must be answered 4xx (never 5xx) with OpenAI's error envelope, and none may change what
 * the service has stored: the database's rows, the files in the data dir and settings.json are compared with a
 * snapshot taken before the first request, after every request.
 */

const services = fakeServices()
let t: TestService

/** Small body limits, so that "too large" bodies stay cheap to send. */
const LIMITS = { maxJsonBodyBytes: 64 * 1024, maxInferenceBodyBytes: 128 * 1024, maxFileBytes: 256 * 1024 }

/** What the service had stored before the first malformed request. */
let baseline: Snapshot
/** Ids of what was stored on purpose before the snapshot (so requests can aim at real objects). */
const seed = { batchFile: '', userFile: '', batch: '', outputFile: '' }

// ---------------------------------------------------------------------------------------------------------------
// Snapshots of stored state

interface Snapshot {
  /** Per table (and sqlite_master): row count and a digest of all rows. */
  tables: Record<string, { rows: number; digest: string }>
  /** Files under the data dir (logs, SQLite WAL/SHM excluded): relative path -> size and digest. */
  files: Record<string, string>
  settingsJson: string | null
}

const sha = (data: string | Buffer): string => crypto.createHash('sha256').update(data).digest('hex').slice(0, 16)

function rowDigest(rows: unknown[]): string {
  // Rows in a stable order whatever the table's keys: each row serialised, then the list sorted.
  const lines = rows.map((r) => JSON.stringify(r, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v)))
  lines.sort()
  return sha(lines.join('\n'))
}

function snapshot(): Snapshot {
  const db = t.service.store.db
  const tables: Snapshot['tables'] = {}
  const master = db.prepare("SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY type, name").all()
  tables.sqlite_master = { rows: master.length, digest: rowDigest(master) }
  const names = (db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").all() as { name: string }[]).map((r) => r.name)
  expect(names.length, 'the database has tables').toBeGreaterThan(0)
  for (const name of names) {
    const rows = db.prepare(`SELECT * FROM "${name.replace(/"/g, '""')}"`).all()
    tables[name] = { rows: rows.length, digest: rowDigest(rows) }
  }
  const files: Snapshot['files'] = {}
  const walk = (dir: string): void => {
    for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
      const full = path.join(dir, entry.name)
      const rel = path.relative(t.dataDir, full)
      if (entry.isDirectory()) {
        files[`${rel}/`] = 'dir'
        walk(full)
        continue
      }
      if (/\.log(\.\d+)?$/.test(entry.name) || /-(wal|shm|journal)$/.test(entry.name)) continue
      let data: Buffer
      try {
        data = fs.readFileSync(full)
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue // removed while listing: it is not there
        throw err
      }
      files[rel] = `${data.length} bytes, ${sha(data)}`
    }
  }
  walk(t.dataDir)
  const settingsFile = path.join(t.dataDir, 'settings.json')
  const settingsJson = fs.existsSync(settingsFile) ? fs.readFileSync(settingsFile, 'utf8') : null
  return { tables, files, settingsJson }
}

/** What differs between two snapshots, one line each (empty when nothing does). */
function changes(now: Snapshot, before: Snapshot): string[] {
  const out: string[] = []
  const compare = (kind: string, a: Record<string, unknown>, b: Record<string, unknown>): void => {
    for (const key of new Set([...Object.keys(a), ...Object.keys(b)])) {
      const x = JSON.stringify(a[key] ?? null)
      const y = JSON.stringify(b[key] ?? null)
      if (x !== y) out.push(`${kind} ${key}: was ${y}, now ${x}`)
    }
  }
  compare('table', now.tables, before.tables)
  compare('file', now.files, before.files)
  if (now.settingsJson !== before.settingsJson) out.push(`settings.json: was ${JSON.stringify(before.settingsJson)}, now ${JSON.stringify(now.settingsJson)}`)
  return out
}

// ---------------------------------------------------------------------------------------------------------------
// Sending requests

interface Answer {
  status: number
  headers: Record<string, string>
  body: string
}

/** A fetch init whose headers are a plain object (so cases can add to them). */
type Init = Omit<RequestInit, 'headers'> & { headers: Record<string, string> }

/** fetch with the API key (unless the request gives its own Authorization). */
async function send(pathname: string, init: Omit<RequestInit, 'headers'> & { headers?: Record<string, string> } = {}): Promise<Answer> {
  const res = await fetch(`${t.url}${pathname}`, {
    ...init,
    headers: { authorization: `Bearer ${t.apiKey}`, ...init.headers },
    signal: AbortSignal.timeout(30_000),
  })
  const headers: Record<string, string> = {}
  res.headers.forEach((v, k) => (headers[k] = v))
  return { status: res.status, headers, body: await res.text() }
}

/**
 * Writes `head` + `body` as they are to a fresh connection and reads the answer until the server closes it
 * (every raw request says `Connection: close`, and an answer to a malformed one closes anyway). Bounded.
 */
function sendRaw(head: string, body: Buffer | string = ''): Promise<Answer> {
  const { hostname, port } = new URL(t.url)
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    const socket = net.connect(Number(port), hostname, () => {
      socket.write(Buffer.concat([Buffer.from(head, 'latin1'), Buffer.isBuffer(body) ? body : Buffer.from(body)]))
    })
    const timer = setTimeout(() => {
      socket.destroy()
      reject(new Error(`no complete answer within 30 s to ${JSON.stringify(head.slice(0, 80))}; got ${JSON.stringify(Buffer.concat(chunks).toString('latin1').slice(0, 300))}`))
    }, 30_000)
    socket.on('data', (c: Buffer) => chunks.push(c))
    // A reset after the answer (the server closing while the request was still being written) still has the answer.
    socket.on('error', () => undefined)
    socket.on('close', () => {
      clearTimeout(timer)
      try {
        resolve(parseRaw(Buffer.concat(chunks)))
      } catch (err) {
        reject(err)
      }
    })
  })
}

function parseRaw(raw: Buffer): Answer {
  const text = raw.toString('latin1')
  const end = text.indexOf('\r\n\r\n')
  if (end === -1) throw new Error(`no HTTP answer, got ${JSON.stringify(text.slice(0, 300))}`)
  const [statusLine, ...lines] = text.slice(0, end).split('\r\n')
  const m = /^HTTP\/1\.[01] (\d{3})/.exec(statusLine)
  if (!m) throw new Error(`not an HTTP status line: ${JSON.stringify(statusLine)}`)
  const headers: Record<string, string> = {}
  for (const line of lines) {
    const i = line.indexOf(':')
    if (i > 0) headers[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim()
  }
  let body = raw.subarray(end + 4)
  if (/chunked/i.test(headers['transfer-encoding'] ?? '')) {
    const out: Buffer[] = []
    let at = 0
    for (;;) {
      const lineEnd = body.indexOf('\r\n', at)
      if (lineEnd === -1) break
      const size = parseInt(body.subarray(at, lineEnd).toString('latin1'), 16)
      if (!Number.isFinite(size) || size === 0) break
      out.push(body.subarray(lineEnd + 2, lineEnd + 2 + size))
      at = lineEnd + 2 + size + 2
    }
    body = Buffer.concat(out)
  } else if (headers['content-length'] !== undefined) {
    body = body.subarray(0, Number(headers['content-length']))
  }
  return { status: Number(m[1]), headers, body: body.toString('utf8') }
}

/** A raw request's head: request line, Host, the key, `Connection: close`, and the extra header lines given. */
function head(requestLine: string, extra: Record<string, string | number> = {}, key: string | null = t.apiKey): string {
  const lines = [`${requestLine} HTTP/1.1`, `Host: ${new URL(t.url).host}`, 'Connection: close']
  if (key !== null) lines.push(`Authorization: Bearer ${key}`)
  for (const [k, v] of Object.entries(extra)) lines.push(`${k}: ${v}`)
  return `${lines.join('\r\n')}\r\n\r\n`
}

/** A raw request with a body whose Content-Length is right (unless `extra` says otherwise). */
function sendRawBody(requestLine: string, body: Buffer | string, extra: Record<string, string | number> = {}): Promise<Answer> {
  const buf = Buffer.isBuffer(body) ? body : Buffer.from(body)
  return sendRaw(head(requestLine, { 'Content-Length': buf.length, ...extra }), buf)
}

const json = (value: unknown): Init => ({
  method: 'POST',
  body: JSON.stringify(value),
  headers: { 'content-type': 'application/json' },
})
/** A body as fetch takes it. */
const bytes = (b: string | Buffer): BodyInit => (typeof b === 'string' ? b : new Uint8Array(b))
const rawJson = (text: string | Buffer, method = 'POST'): Init => ({
  method,
  body: bytes(text),
  headers: { 'content-type': 'application/json' },
})
const upload = (parts: { name: string; value: string | Buffer; filename?: string }[], boundary?: string): Init => {
  const m = multipart(parts, boundary)
  return { method: 'POST', body: bytes(m.body), headers: { 'content-type': m.contentType } }
}

/** A valid batch input file's content, and one with broken lines. */
const GOOD_JSONL = jsonl(2, 'chaos')
const BAD_JSONL = '{"custom_id": "a", "method": "POST", \nnot json at all\n[1,2,3]\n'

// ---------------------------------------------------------------------------------------------------------------
// The routes and the malformed requests

/** Every route the service serves, as its routers declare them (main/server/routes/*.ts). */
const ROUTES = [
  'POST /v1/files',
  'GET /v1/files',
  'GET /v1/files/:id',
  'GET /v1/files/:id/content',
  'DELETE /v1/files/:id',
  'POST /v1/batches',
  'GET /v1/batches',
  'GET /v1/batches/:id',
  'POST /v1/batches/:id/cancel',
  'POST /v1/chat/completions',
  'POST /v1/completions',
  'POST /v1/embeddings',
  'GET /v1/models',
  'GET /v1/models/*id',
  'GET /api/engine',
  'POST /api/engine/start',
  'POST /api/engine/switch',
  'POST /api/engine/stop',
  'POST /api/models/*id/download',
  'GET /metrics',
  'GET /api/batches',
  'GET /api/batches/:id',
  'GET /api/batches/:id/failed',
  'POST /api/batches/:id/retry-failed',
  'POST /api/batches/pause',
  'POST /api/batches/resume',
  'GET /health',
  'GET /api/gpu',
  'GET /api/events',
  'GET /api/settings',
  'PUT /api/settings',
  'POST /api/settings/api-key',
  'GET /',
  'GET /assets/:file',
] as const
type Route = (typeof ROUTES)[number]

interface Case {
  route: Route
  what: string
  /** The status the request must get (a 4xx; one of several where more than one is right). */
  status: number | number[]
  /** The error's `code` when it is known for sure. */
  code?: string | null
  /** The error's `param`, when the request names one. */
  param?: string | null
  send: () => Promise<Answer>
}

const FAKE_FILE = 'file-AAAAAAAAAAAAAAAAAAAAAAAA'
const FAKE_BATCH = 'batch_AAAAAAAAAAAAAAAAAAAAAAAA'
const LONG_ID = `file-${'A'.repeat(20_000)}`
const INVALID_UTF8 = Buffer.from([0xff, 0xfe, 0xc3, 0x28, 0xa0, 0xa1, 0xe2, 0x28, 0xa1])
const HUGE_NUMBER = '1e400'

function cases(): Case[] {
  const c: Case[] = []
  const add = (route: Route, what: string, status: number | number[], send: () => Promise<Answer>, extra: Partial<Pick<Case, 'code' | 'param'>> = {}): void => {
    c.push({ route, what, status, send, ...extra })
  }

  // --- POST /v1/files (upload)
  add('POST /v1/files', 'no file part', 400, () => send('/v1/files', upload([{ name: 'purpose', value: 'batch' }])), { code: 'missing_required_parameter', param: 'file' })
  add('POST /v1/files', 'no purpose', 400, () => send('/v1/files', upload([{ name: 'file', value: GOOD_JSONL, filename: 'a.jsonl' }])), { code: 'missing_required_parameter', param: 'purpose' })
  add('POST /v1/files', 'empty purpose', 400, () => send('/v1/files', upload([{ name: 'purpose', value: '' }, { name: 'file', value: GOOD_JSONL, filename: 'a.jsonl' }])), { param: 'purpose' })
  add('POST /v1/files', 'unknown purpose', 400, () => send('/v1/files', upload([{ name: 'purpose', value: 'homework' }, { name: 'file', value: GOOD_JSONL, filename: 'a.jsonl' }])), { code: 'invalid_value', param: 'purpose' })
  add('POST /v1/files', "server-only purpose 'batch_output'", 400, () => send('/v1/files', upload([{ name: 'purpose', value: 'batch_output' }, { name: 'file', value: GOOD_JSONL, filename: 'a.jsonl' }])), { code: 'invalid_value', param: 'purpose' })
  add('POST /v1/files', 'batch file that is not .jsonl (with bad JSONL lines)', 400, () => send('/v1/files', upload([{ name: 'purpose', value: 'batch' }, { name: 'file', value: BAD_JSONL, filename: 'input.txt' }])), { code: 'invalid_file_format', param: 'file' })
  add('POST /v1/files', 'empty batch file named .txt', 400, () => send('/v1/files', upload([{ name: 'purpose', value: 'batch' }, { name: 'file', value: '', filename: 'empty.txt' }])), { code: 'invalid_file_format' })
  add('POST /v1/files', 'JSON body instead of multipart', 400, () => send('/v1/files', json({ purpose: 'batch', file: GOOD_JSONL })))
  add('POST /v1/files', 'text/plain body', 400, () => send('/v1/files', { method: 'POST', body: GOOD_JSONL, headers: { 'content-type': 'text/plain' } }))
  add('POST /v1/files', 'multipart without a boundary', 400, () => send('/v1/files', { method: 'POST', body: bytes(multipart([{ name: 'purpose', value: 'batch' }]).body), headers: { 'content-type': 'multipart/form-data' } }))
  add('POST /v1/files', 'multipart cut short (no closing boundary)', 400, () =>
    sendRawBody('POST /v1/files', '--b\r\nContent-Disposition: form-data; name="purpose"\r\n\r\nbatch\r\n--b\r\nContent-Disposition: form-data; name="file"; filename="a.jsonl"\r\n\r\n{"custom_id":', { 'Content-Type': 'multipart/form-data; boundary=b' }),
  )
  add('POST /v1/files', 'garbage under a multipart content type', 400, () => send('/v1/files', { method: 'POST', body: bytes(INVALID_UTF8), headers: { 'content-type': 'multipart/form-data; boundary=zz' } }))
  add('POST /v1/files', 'two file parts', 400, () =>
    send('/v1/files', upload([{ name: 'purpose', value: 'batch' }, { name: 'file', value: GOOD_JSONL, filename: 'a.jsonl' }, { name: 'file', value: GOOD_JSONL, filename: 'b.jsonl' }])),
  )
  add('POST /v1/files', "file part not named 'file'", 400, () => send('/v1/files', upload([{ name: 'purpose', value: 'batch' }, { name: 'document', value: GOOD_JSONL, filename: 'a.jsonl' }])))
  add('POST /v1/files', 'file over maxFileBytes', 400, () => send('/v1/files', upload([{ name: 'purpose', value: 'batch' }, { name: 'file', value: Buffer.alloc(LIMITS.maxFileBytes + 4096, 0x61), filename: 'big.jsonl' }])), { code: 'file_too_large', param: 'file' })
  add('POST /v1/files', 'purpose field over 64 KiB', 400, () => send('/v1/files', upload([{ name: 'purpose', value: 'b'.repeat(70_000) }, { name: 'file', value: GOOD_JSONL, filename: 'a.jsonl' }])), { param: 'purpose' })
  add('POST /v1/files', 'expires_after with a bad anchor', 400, () =>
    send('/v1/files', upload([{ name: 'purpose', value: 'batch' }, { name: 'expires_after[anchor]', value: 'last_used_at' }, { name: 'expires_after[seconds]', value: '7200' }, { name: 'file', value: GOOD_JSONL, filename: 'a.jsonl' }])),
  )
  add('POST /v1/files', 'expires_after with negative seconds', 400, () =>
    send('/v1/files', upload([{ name: 'purpose', value: 'batch' }, { name: 'expires_after[anchor]', value: 'created_at' }, { name: 'expires_after[seconds]', value: '-5' }, { name: 'file', value: GOOD_JSONL, filename: 'a.jsonl' }])),
  )
  add('POST /v1/files', 'expires_after with huge seconds', 400, () =>
    send('/v1/files', upload([{ name: 'purpose', value: 'batch' }, { name: 'expires_after[anchor]', value: 'created_at' }, { name: 'expires_after[seconds]', value: '99999999999999999999' }, { name: 'file', value: GOOD_JSONL, filename: 'a.jsonl' }])),
  )
  add('POST /v1/files', 'invalid UTF-8 purpose and file name', 400, () =>
    send('/v1/files', upload([{ name: 'purpose', value: INVALID_UTF8 }, { name: 'file', value: GOOD_JSONL, filename: `\u0000..${'\u00ff'}/../../x.jsonl` }])),
  )
  add('POST /v1/files', 'file first, then an unknown purpose', 400, () => send('/v1/files', upload([{ name: 'file', value: GOOD_JSONL.repeat(50), filename: 'a.jsonl' }, { name: 'purpose', value: 'nope' }])), { code: 'invalid_value', param: 'purpose' })
  add('POST /v1/files', 'chunked upload with an unknown purpose', 400, () => {
    const m = multipart([{ name: 'file', value: GOOD_JSONL, filename: 'a.jsonl' }, { name: 'purpose', value: 'nope' }])
    const chunks = [m.body.subarray(0, 50), m.body.subarray(50)].map((b) => `${b.length.toString(16)}\r\n${b.toString('latin1')}\r\n`).join('')
    return sendRaw(head('POST /v1/files', { 'Content-Type': m.contentType, 'Transfer-Encoding': 'chunked' }), Buffer.from(`${chunks}0\r\n\r\n`, 'latin1'))
  }, { code: 'invalid_value', param: 'purpose' })
  add('POST /v1/files', 'a JSON body under a multipart content type', 400, () => send('/v1/files', { method: 'POST', body: '{"purpose":"batch"}', headers: { 'content-type': 'multipart/form-data; boundary=xyz' } }))
  add('POST /v1/files', 'declares 1 TB (over maxFileBytes), body never sent', 400, () =>
    sendRaw(head('POST /v1/files', { 'Content-Type': 'multipart/form-data; boundary=b', 'Content-Length': 1024 ** 4 })),
  { code: 'file_too_large', param: 'file' })
  add('POST /v1/files', 'wrong API key', 401, () => {
    const u = upload([{ name: 'purpose', value: 'batch' }, { name: 'file', value: GOOD_JSONL, filename: 'a.jsonl' }])
    return send('/v1/files', { ...u, headers: { ...u.headers, authorization: 'Bearer wrong-key' } })
  }, { code: 'invalid_api_key' })
  add('POST /v1/files', 'unknown method PATCH', 405, () => send('/v1/files', { method: 'PATCH', body: '{}' }))

  // --- GET /v1/files (list)
  add('GET /v1/files', 'unknown purpose filter', 400, () => send('/v1/files?purpose=nonsense'), { param: 'purpose' })
  add('GET /v1/files', 'limit 0', 400, () => send('/v1/files?limit=0'), { param: 'limit' })
  add('GET /v1/files', 'negative limit', 400, () => send('/v1/files?limit=-1'), { param: 'limit' })
  add('GET /v1/files', 'huge limit', 400, () => send(`/v1/files?limit=${'9'.repeat(40)}`), { param: 'limit' })
  add('GET /v1/files', 'limit given twice', 400, () => send('/v1/files?limit=1&limit=2'), { param: 'limit' })
  add('GET /v1/files', 'limit with broken percent-encoding', 400, () => send('/v1/files?limit=%ZZ'), { param: 'limit' })
  add('GET /v1/files', 'limit over 10 000', 400, () => send('/v1/files?limit=10001'), { param: 'limit' })
  add('GET /v1/files', "order 'sideways'", 400, () => send('/v1/files?order=sideways'), { param: 'order' })
  add('GET /v1/files', 'after an unknown id', 404, () => send(`/v1/files?after=${FAKE_FILE}`), { param: 'after' })
  add('GET /v1/files', 'after a traversal path', 404, () => send(`/v1/files?after=${encodeURIComponent('../../vbs.sqlite')}`), { param: 'after' })

  // --- GET /v1/files/:id
  add('GET /v1/files/:id', 'unknown well-formed id', 404, () => send(`/v1/files/${FAKE_FILE}`), { param: 'id' })
  add('GET /v1/files/:id', 'malformed id', 404, () => send('/v1/files/not-a-file-id'), { param: 'id' })
  add('GET /v1/files/:id', 'encoded traversal id', 404, () => send(`/v1/files/${encodeURIComponent('../../vbs.sqlite')}`), { param: 'id' })
  add('GET /v1/files/:id', 'raw traversal path', 404, () => sendRaw(head('GET /v1/files/../../vbs.sqlite')))
  add('GET /v1/files/:id', '4 000-character id', 404, () => send(`/v1/files/file-${'A'.repeat(4000)}`), { param: 'id' })
  add('GET /v1/files/:id', '20 000-character id (request line over the header limit)', 431, () => send(`/v1/files/${LONG_ID}`))
  add('GET /v1/files/:id', 'broken percent-encoding in the id', 404, () => sendRaw(head('GET /v1/files/file-%E0%A4%A')))
  add('GET /v1/files/:id', 'invalid UTF-8 (percent-encoded) id', 404, () => send('/v1/files/file-%FF%FE%C3%28'), { param: 'id' })

  // --- GET /v1/files/:id/content
  add('GET /v1/files/:id/content', 'unknown id', 404, () => send(`/v1/files/${FAKE_FILE}/content`), { param: 'id' })
  add('GET /v1/files/:id/content', 'traversal id', 404, () => send(`/v1/files/${encodeURIComponent('file-../../../vbs.sqlite')}/content`), { param: 'id' })
  add('GET /v1/files/:id/content', 'null byte in the id', 404, () => send('/v1/files/file-abc%00.sqlite/content'), { param: 'id' })
  add('GET /v1/files/:id/content', 'unknown method POST', 405, () => send(`/v1/files/${seed.batchFile}/content`, { method: 'POST' }))

  // --- DELETE /v1/files/:id
  add('DELETE /v1/files/:id', 'unknown id', 404, () => send(`/v1/files/${FAKE_FILE}`, { method: 'DELETE' }), { param: 'id' })
  add('DELETE /v1/files/:id', 'malformed id', 404, () => send('/v1/files/12345', { method: 'DELETE' }), { param: 'id' })
  add('DELETE /v1/files/:id', 'traversal id', 404, () => send(`/v1/files/${encodeURIComponent('../settings.json')}`, { method: 'DELETE' }), { param: 'id' })
  add('DELETE /v1/files/:id', 'wrong API key on a real file', 401, () => send(`/v1/files/${seed.userFile}`, { method: 'DELETE', headers: { authorization: 'Bearer nope' } }), { code: 'invalid_api_key' })
  add('DELETE /v1/files/:id', 'no API key on a real file', 401, () => sendRaw(head(`DELETE /v1/files/${seed.userFile}`, {}, null)), { code: 'invalid_api_key' })
  add('DELETE /v1/files/:id', 'unknown method PUT on a real file', 405, () => send(`/v1/files/${seed.userFile}`, { method: 'PUT', body: '{}' }))

  // --- POST /v1/batches (create)
  const batch = (over: Record<string, unknown>): Record<string, unknown> => ({ input_file_id: seed.batchFile, endpoint: '/v1/chat/completions', completion_window: '24h', ...over })
  add('POST /v1/batches', 'invalid JSON', 400, () => send('/v1/batches', rawJson('{"input_file_id": ')), { code: 'invalid_json' })
  add('POST /v1/batches', 'a JSON array', 400, () => send('/v1/batches', rawJson(JSON.stringify([batch({})]))), { code: 'invalid_json' })
  add('POST /v1/batches', 'a JSON number', 400, () => send('/v1/batches', rawJson('42')), { code: 'invalid_json' })
  add('POST /v1/batches', 'JSON null', 400, () => send('/v1/batches', rawJson('null')), { code: 'invalid_json' })
  add('POST /v1/batches', 'a JSON string', 400, () => send('/v1/batches', rawJson('"batch"')), { code: 'invalid_json' })
  add('POST /v1/batches', 'empty object', 400, () => send('/v1/batches', json({})), { code: 'missing_required_parameter', param: 'input_file_id' })
  add('POST /v1/batches', 'input_file_id a number', 400, () => send('/v1/batches', json(batch({ input_file_id: 12 }))), { code: 'invalid_type', param: 'input_file_id' })
  add('POST /v1/batches', 'input_file_id an object', 400, () => send('/v1/batches', json(batch({ input_file_id: { id: seed.batchFile } }))), { code: 'invalid_type', param: 'input_file_id' })
  add('POST /v1/batches', 'unknown input file', 404, () => send('/v1/batches', json(batch({ input_file_id: FAKE_FILE }))), { param: 'input_file_id' })
  add('POST /v1/batches', 'traversal input_file_id', 404, () => send('/v1/batches', json(batch({ input_file_id: '../../vbs.sqlite' }))), { param: 'input_file_id' })
  add('POST /v1/batches', 'input file of purpose user_data', 400, () => send('/v1/batches', json(batch({ input_file_id: seed.userFile }))), { param: 'input_file_id' })
  add('POST /v1/batches', 'input file of purpose batch_output', 400, () => send('/v1/batches', json(batch({ input_file_id: seed.outputFile }))), { param: 'input_file_id' })
  add('POST /v1/batches', "metadata with a '__proto__' number", 400, () => send('/v1/batches', rawJson(`{"input_file_id":"${seed.batchFile}","endpoint":"/v1/chat/completions","completion_window":"24h","metadata":{"__proto__":5}}`)), { code: 'invalid_type', param: 'metadata.__proto__' })
  add('POST /v1/batches', 'unknown endpoint', 400, () => send('/v1/batches', json(batch({ endpoint: '/v1/images/generations' }))), { code: 'invalid_value', param: 'endpoint' })
  add('POST /v1/batches', 'endpoint a boolean', 400, () => send('/v1/batches', json(batch({ endpoint: true }))), { code: 'invalid_type', param: 'endpoint' })
  add('POST /v1/batches', "completion_window '48h'", 400, () => send('/v1/batches', json(batch({ completion_window: '48h' }))), { code: 'invalid_value', param: 'completion_window' })
  add('POST /v1/batches', 'completion_window a huge number', 400, () => send('/v1/batches', rawJson(`{"input_file_id":"${seed.batchFile}","endpoint":"/v1/chat/completions","completion_window":${HUGE_NUMBER}}`)), { code: 'invalid_type', param: 'completion_window' })
  add('POST /v1/batches', 'metadata an array', 400, () => send('/v1/batches', json(batch({ metadata: ['a'] }))), { code: 'invalid_type', param: 'metadata' })
  add('POST /v1/batches', 'metadata with 17 keys', 400, () => send('/v1/batches', json(batch({ metadata: Object.fromEntries(Array.from({ length: 17 }, (_, i) => [`k${i}`, 'v'])) }))), { param: 'metadata' })
  add('POST /v1/batches', 'metadata value of 10 000 characters', 400, () => send('/v1/batches', json(batch({ metadata: { note: 'x'.repeat(10_000) } }))), { param: 'metadata.note' })
  add('POST /v1/batches', 'metadata value a number', 400, () => send('/v1/batches', json(batch({ metadata: { n: 1 } }))), { code: 'invalid_type', param: 'metadata.n' })
  add('POST /v1/batches', 'output_expires_after with a bad anchor', 400, () => send('/v1/batches', json(batch({ output_expires_after: { anchor: 'now', seconds: 3600 } }))), { param: 'output_expires_after.anchor' })
  add('POST /v1/batches', 'output_expires_after with negative seconds', 400, () => send('/v1/batches', json(batch({ output_expires_after: { anchor: 'created_at', seconds: -1 } }))), { param: 'output_expires_after.seconds' })
  add('POST /v1/batches', 'body over maxJsonBodyBytes', 413, () => send('/v1/batches', json(batch({ metadata: { a: 'x'.repeat(LIMITS.maxJsonBodyBytes) } }))), { code: 'request_too_large' })
  add('POST /v1/batches', 'chunked body over maxJsonBodyBytes', 413, () =>
    sendRaw(head('POST /v1/batches', { 'Content-Type': 'application/json', 'Transfer-Encoding': 'chunked' }), `${(LIMITS.maxJsonBodyBytes + 10).toString(16)}\r\n${'{'.repeat(LIMITS.maxJsonBodyBytes + 10)}\r\n0\r\n\r\n`),
    { code: 'request_too_large' },
  )
  add('POST /v1/batches', 'invalid UTF-8 in the JSON', 400, () => send('/v1/batches', rawJson(Buffer.concat([Buffer.from('{"input_file_id": '), INVALID_UTF8, Buffer.from('}')]))), { code: 'invalid_json' })
  add('POST /v1/batches', 'invalid UTF-8 inside a string value', 404, () =>
    send('/v1/batches', rawJson(Buffer.concat([Buffer.from('{"endpoint":"/v1/chat/completions","completion_window":"24h","input_file_id":"file-'), INVALID_UTF8, Buffer.from('"}')]))),
    { param: 'input_file_id' },
  )
  add('POST /v1/batches', 'deeply nested JSON', 400, () => send('/v1/batches', rawJson(`{"input_file_id":${'['.repeat(30_000)}${']'.repeat(30_000)}}`)), { param: 'input_file_id' })
  add('POST /v1/batches', 'a multipart body', 400, () => send('/v1/batches', upload([{ name: 'input_file_id', value: seed.batchFile }])), { code: 'invalid_json' })
  add('POST /v1/batches', 'no API key', 401, () => send('/v1/batches', { ...json(batch({})), headers: { 'content-type': 'application/json', authorization: '' } }), { code: 'invalid_api_key' })
  add('POST /v1/batches', 'unknown method PUT', 405, () => send('/v1/batches', { ...json(batch({})), method: 'PUT' }))

  // --- GET /v1/batches (list)
  add('GET /v1/batches', 'limit 0', 400, () => send('/v1/batches?limit=0'), { param: 'limit' })
  add('GET /v1/batches', 'limit 101', 400, () => send('/v1/batches?limit=101'), { param: 'limit' })
  add('GET /v1/batches', 'negative limit', 400, () => send('/v1/batches?limit=-20'), { param: 'limit' })
  add('GET /v1/batches', 'fractional limit', 400, () => send('/v1/batches?limit=1.5'), { param: 'limit' })
  add('GET /v1/batches', 'limit not a number', 400, () => send('/v1/batches?limit=ten'), { param: 'limit' })
  add('GET /v1/batches', 'after an unknown batch', 404, () => send(`/v1/batches?after=${FAKE_BATCH}`), { param: 'after' })
  add('GET /v1/batches', 'after a malformed id', 404, () => send(`/v1/batches?after=${encodeURIComponent("x' OR 1=1 --")}`), { param: 'after' })

  // --- GET /v1/batches/:id
  add('GET /v1/batches/:id', 'unknown batch', 404, () => send(`/v1/batches/${FAKE_BATCH}`), { param: 'id' })
  add('GET /v1/batches/:id', 'malformed id', 404, () => send('/v1/batches/batch-with-dashes'), { param: 'id' })
  add('GET /v1/batches/:id', 'SQL in the id', 404, () => send(`/v1/batches/${encodeURIComponent("batch_x'; DROP TABLE batches; --")}`), { param: 'id' })
  add('GET /v1/batches/:id', 'unknown method DELETE', 405, () => send(`/v1/batches/${seed.batch}`, { method: 'DELETE' }))

  // --- POST /v1/batches/:id/cancel
  add('POST /v1/batches/:id/cancel', 'unknown batch', 404, () => send(`/v1/batches/${FAKE_BATCH}/cancel`, { method: 'POST' }), { param: 'id' })
  add('POST /v1/batches/:id/cancel', 'traversal id', 404, () => send(`/v1/batches/${encodeURIComponent('../../vbs.sqlite')}/cancel`, { method: 'POST' }), { param: 'id' })
  add('POST /v1/batches/:id/cancel', 'a completed batch', 409, () => send(`/v1/batches/${seed.batch}/cancel`, { method: 'POST' }))
  add('POST /v1/batches/:id/cancel', 'GET instead of POST', 405, () => send(`/v1/batches/${seed.batch}/cancel`))
  add('POST /v1/batches/:id/cancel', 'wrong API key', 401, () => send(`/v1/batches/${seed.batch}/cancel`, { method: 'POST', headers: { authorization: 'Bearer x' } }), { code: 'invalid_api_key' })

  // --- real-time inference
  for (const p of ['/v1/chat/completions', '/v1/completions', '/v1/embeddings'] as const) {
    const route = `POST ${p}` as Route
    add(route, 'invalid JSON', 400, () => send(p, rawJson('{"model": "test-model-a", ')), { code: 'invalid_json' })
    add(route, 'a JSON array', 400, () => send(p, rawJson('[{"model":"test-model-a"}]')), { code: 'invalid_json' })
    add(route, 'no model', 400, () => send(p, json({ messages: [{ role: 'user', content: 'hi' }], prompt: 'hi', input: 'hi' })), { code: 'missing_required_parameter', param: 'model' })
    add(route, 'model a number', 400, () => send(p, json({ model: 7, prompt: 'hi' })), { code: 'invalid_type', param: 'model' })
    add(route, 'unknown model', 404, () => send(p, json({ model: 'no-such-model', prompt: 'hi', input: 'hi', messages: [] })))
    add(route, 'body over maxInferenceBodyBytes', 413, () => send(p, json({ model: 'test-model-a', prompt: 'x'.repeat(LIMITS.maxInferenceBodyBytes) })), { code: 'request_too_large' })
  }
  add('POST /v1/chat/completions', 'invalid UTF-8 body', 400, () => send('/v1/chat/completions', rawJson(INVALID_UTF8)), { code: 'invalid_json' })
  add('POST /v1/chat/completions', 'GET instead of POST', 405, () => send('/v1/chat/completions'))
  add('POST /v1/embeddings', 'wrong API key', 401, () => send('/v1/embeddings', { ...json({ model: 'test-model-a', input: 'x' }), headers: { 'content-type': 'application/json', authorization: 'Bearer bad' } }), { code: 'invalid_api_key' })

  // --- models
  add('GET /v1/models', 'unknown method POST', 405, () => send('/v1/models', json({ id: 'x' })))
  add('GET /v1/models', 'no API key', 401, () => sendRaw(head('GET /v1/models', {}, null)), { code: 'invalid_api_key' })
  add('GET /v1/models/*id', 'unknown model', 404, () => send('/v1/models/no-such-model'), { param: 'model' })
  add('GET /v1/models/*id', 'traversal model id', 404, () => send(`/v1/models/${encodeURIComponent('../../../etc/passwd')}`), { param: 'model' })
  add('GET /v1/models/*id', 'unknown method DELETE', 405, () => send('/v1/models/test-model-a', { method: 'DELETE' }))

  // --- engine
  add('GET /api/engine', 'unknown method PUT', 405, () => send('/api/engine', rawJson('{}', 'PUT')))
  add('POST /api/engine/start', 'invalid JSON', 400, () => send('/api/engine/start', rawJson('{model')), { code: 'invalid_json' })
  add('POST /api/engine/start', 'a JSON array', 400, () => send('/api/engine/start', rawJson('["test-model-b"]')), { code: 'invalid_json' })
  add('POST /api/engine/start', 'model a number', 400, () => send('/api/engine/start', json({ model: 5 })), { param: 'model' })
  add('POST /api/engine/start', 'unknown model', 404, () => send('/api/engine/start', json({ model: 'no-such-model' })), { param: 'model' })
  add('POST /api/engine/start', 'body over maxJsonBodyBytes', 413, () => send('/api/engine/start', json({ model: 'test-model-b', pad: 'x'.repeat(LIMITS.maxJsonBodyBytes) })), { code: 'request_too_large' })
  add('POST /api/engine/switch', 'no model', 400, () => send('/api/engine/switch', json({})), { code: 'missing_required_parameter', param: 'model' })
  add('POST /api/engine/switch', 'model an array', 400, () => send('/api/engine/switch', json({ model: ['test-model-b'] })), { param: 'model' })
  add('POST /api/engine/switch', 'traversal model', 404, () => send('/api/engine/switch', json({ model: '../../../bin/sh' })), { param: 'model' })
  add('POST /api/engine/switch', 'GET instead of POST', 405, () => send('/api/engine/switch'))
  add('POST /api/engine/stop', 'GET instead of POST', 405, () => send('/api/engine/stop'))
  add('POST /api/engine/stop', 'wrong API key', 401, () => send('/api/engine/stop', { method: 'POST', headers: { authorization: 'Bearer wrong' } }), { code: 'invalid_api_key' })
  add('POST /api/models/*id/download', 'unknown model', 404, () => send('/api/models/no-such-model/download', { method: 'POST' }), { param: 'model' })
  add('POST /api/models/*id/download', 'a model with nothing to download', 400, () => send('/api/models/test-model-a/download', { method: 'POST' }), { param: 'model' })
  add('POST /api/models/*id/download', 'traversal model id', 404, () => send(`/api/models/${encodeURIComponent('../../etc/passwd')}/download`, { method: 'POST' }), { param: 'model' })
  add('POST /api/models/*id/download', 'GET instead of POST', 405, () => send('/api/models/test-model-a/download'))
  add('GET /metrics', 'unknown method POST', 405, () => send('/metrics', rawJson('{}')))
  add('GET /metrics', 'wrong API key', 401, () => send('/metrics', { headers: { authorization: 'Bearer no' } }), { code: 'invalid_api_key' })

  // --- batch admin
  add('GET /api/batches', 'limit 0', 400, () => send('/api/batches?limit=0'), { param: 'limit' })
  add('GET /api/batches', 'negative limit', 400, () => send('/api/batches?limit=-3'), { param: 'limit' })
  add('GET /api/batches', 'after an unknown batch', 404, () => send(`/api/batches?after=${FAKE_BATCH}`), { param: 'after' })
  add('GET /api/batches/:id', 'unknown batch', 404, () => send(`/api/batches/${FAKE_BATCH}`), { param: 'id' })
  add('GET /api/batches/:id', 'traversal id', 404, () => send(`/api/batches/${encodeURIComponent('../../vbs.sqlite')}`), { param: 'id' })
  add('GET /api/batches/:id/failed', 'unknown batch', 404, () => send(`/api/batches/${FAKE_BATCH}/failed`), { param: 'id' })
  add('GET /api/batches/:id/failed', 'negative limit', 400, () => send(`/api/batches/${seed.batch}/failed?limit=-1`), { param: 'limit' })
  add('GET /api/batches/:id/failed', 'huge limit', 400, () => send(`/api/batches/${seed.batch}/failed?limit=99999999999`), { param: 'limit' })
  add('POST /api/batches/:id/retry-failed', 'unknown batch', 404, () => send(`/api/batches/${FAKE_BATCH}/retry-failed`, { method: 'POST' }), { param: 'id' })
  add('POST /api/batches/:id/retry-failed', 'malformed id', 404, () => send(`/api/batches/${encodeURIComponent('../etc')}/retry-failed`, { method: 'POST' }), { param: 'id' })
  add('POST /api/batches/:id/retry-failed', 'a batch without failures', 400, () => send(`/api/batches/${seed.batch}/retry-failed`, { method: 'POST' }), { code: 'nothing_to_retry' })
  add('POST /api/batches/:id/retry-failed', 'GET instead of POST', 405, () => send(`/api/batches/${seed.batch}/retry-failed`))
  add('POST /api/batches/pause', 'PUT instead of POST', 405, () => send('/api/batches/pause', { method: 'PUT' }))
  add('POST /api/batches/pause', 'wrong API key', 401, () => send('/api/batches/pause', { method: 'POST', headers: { authorization: 'Bearer wrong' } }), { code: 'invalid_api_key' })
  add('POST /api/batches/resume', 'DELETE instead of POST', 405, () => send('/api/batches/resume', { method: 'DELETE' }))

  // --- status
  add('GET /health', 'a Host that is not this machine', 421, () => sendRaw(head('GET /health').replace(/^Host: .*$/m, 'Host: evil.example')), { code: 'misdirected_request' })
  add('GET /health', 'unknown method DELETE', 405, () => send('/health', { method: 'DELETE' }))
  add('GET /api/gpu', 'unknown method POST', 405, () => send('/api/gpu', { method: 'POST' }))
  add('GET /api/events', 'unknown method POST', 405, () => send('/api/events', rawJson('{}')))
  add('GET /api/events', 'no API key', 401, () => sendRaw(head('GET /api/events', { Accept: 'text/event-stream' }, null)), { code: 'invalid_api_key' })

  // --- settings
  add('GET /api/settings', 'wrong API key', 401, () => send('/api/settings', { headers: { authorization: 'Bearer guess' } }), { code: 'invalid_api_key' })
  add('PUT /api/settings', 'invalid JSON', 400, () => send('/api/settings', rawJson('{"chunk_size": 12', 'PUT')), { code: 'invalid_json' })
  add('PUT /api/settings', 'a JSON array', 400, () => send('/api/settings', rawJson('[{"chunk_size": 12}]', 'PUT')), { code: 'invalid_json' })
  add('PUT /api/settings', 'a JSON number', 400, () => send('/api/settings', rawJson('12', 'PUT')), { code: 'invalid_json' })
  add('PUT /api/settings', 'unknown setting', 400, () => send('/api/settings', rawJson('{"apiKey": "mine-now"}', 'PUT')), { code: 'invalid_value', param: 'apiKey' })
  add('PUT /api/settings', "a '__proto__' setting", 400, () => send('/api/settings', rawJson('{"__proto__": {"chunk_size": 5}}', 'PUT')), { code: 'invalid_value', param: '__proto__' })
  add('PUT /api/settings', "a 'constructor' setting", 400, () => send('/api/settings', rawJson('{"constructor": 5}', 'PUT')), { code: 'invalid_value', param: 'constructor' })
  add('PUT /api/settings', 'chunk_size a string', 400, () => send('/api/settings', rawJson('{"chunk_size": "lots"}', 'PUT')), { param: 'chunk_size' })
  add('PUT /api/settings', 'chunk_size huge', 400, () => send('/api/settings', rawJson(`{"chunk_size": ${HUGE_NUMBER}}`, 'PUT')), { param: 'chunk_size' })
  add('PUT /api/settings', 'negative port', 400, () => send('/api/settings', rawJson('{"port": -80}', 'PUT')), { param: 'port' })
  add('PUT /api/settings', "lan 'yes'", 400, () => send('/api/settings', rawJson('{"lan": "yes"}', 'PUT')), { code: 'invalid_type', param: 'lan' })
  add('PUT /api/settings', 'a valid field with an invalid one (nothing is applied)', 400, () => send('/api/settings', rawJson('{"chunk_size": 99, "thermal_pause_c": 500}', 'PUT')), { param: 'thermal_pause_c' })
  add('PUT /api/settings', 'resume above pause', 400, () => send('/api/settings', rawJson('{"thermal_pause_c": 70, "thermal_resume_c": 80}', 'PUT')))
  add('PUT /api/settings', 'start_at_login a number', 400, () => send('/api/settings', rawJson('{"start_at_login": 2}', 'PUT')), { param: 'start_at_login' })
  add('PUT /api/settings', 'body over maxJsonBodyBytes', 413, () => send('/api/settings', rawJson(JSON.stringify({ chunk_size: 10, pad: 'x'.repeat(LIMITS.maxJsonBodyBytes) }), 'PUT')), { code: 'request_too_large' })
  add('PUT /api/settings', 'wrong API key', 401, () => send('/api/settings', { ...rawJson('{"chunk_size": 7}', 'PUT'), headers: { 'content-type': 'application/json', authorization: 'Bearer not-it' } }), { code: 'invalid_api_key' })
  add('POST /api/settings/api-key', 'wrong API key', 401, () => send('/api/settings/api-key', { method: 'POST', headers: { authorization: 'Bearer not-it' } }), { code: 'invalid_api_key' })
  add('POST /api/settings/api-key', 'GET instead of POST', 405, () => send('/api/settings/api-key'))
  add('POST /api/settings/api-key', 'DELETE instead of POST', 405, () => send('/api/settings/api-key', { method: 'DELETE' }))

  // --- dashboard
  add('GET /', 'unknown method POST', 405, () => send('/', rawJson('{}')))
  add('GET /assets/:file', 'traversal file name', 404, () => send(`/assets/${encodeURIComponent('../../../main/service.ts')}`))
  add('GET /assets/:file', 'hidden file name', 404, () => send('/assets/.env'))

  // --- below the router: the HTTP parser and the URL
  add('GET /v1/models', 'an unknown method token', 400, () => sendRaw(head('BREW /v1/models')))
  add('POST /v1/batches', 'a non-numeric Content-Length', 400, () => sendRaw(head('POST /v1/batches', { 'Content-Type': 'application/json', 'Content-Length': 'lots' }), '{}'))
  add('POST /v1/batches', 'both Content-Length and Transfer-Encoding', 400, () =>
    sendRaw(head('POST /v1/batches', { 'Content-Type': 'application/json', 'Content-Length': 2, 'Transfer-Encoding': 'chunked' }), '2\r\n{}\r\n0\r\n\r\n'),
  )
  add('GET /v1/files/:id', 'raw invalid UTF-8 bytes in the path', 400, () => sendRaw(`GET /v1/files/file-\xff\xfe HTTP/1.1\r\nHost: ${new URL(t.url).host}\r\nConnection: close\r\nAuthorization: Bearer ${t.apiKey}\r\n\r\n`))
  add('GET /v1/files', 'header line without a colon', 400, () => sendRaw(`GET /v1/files HTTP/1.1\r\nHost: ${new URL(t.url).host}\r\nthis is not a header\r\n\r\n`))
  return c
}

// ---------------------------------------------------------------------------------------------------------------

beforeAll(async () => {
  ;({ t } = await services.boot({}, LIMITS))
  // Something stored to aim at: a batch input file, a user_data file, a batch run to completion by the fake
  // engine (so the engine is up), and a settings.json.
  const input = await t.client.files.create({ file: await toFile(Buffer.from(jsonl(3, 'seed')), 'seed.jsonl'), purpose: 'batch' })
  const notes = await t.client.files.create({ file: await toFile(Buffer.from('some notes\n'), 'notes.txt'), purpose: 'user_data' })
  const created = await t.client.batches.create({ input_file_id: input.id, endpoint: '/v1/chat/completions', completion_window: '24h' })
  const done = await waitForBatch(t.client, created.id, ['validating', 'in_progress', 'finalizing'], 60_000)
  expect(done.status).toBe('completed')
  expect(done.request_counts).toMatchObject({ total: 3, completed: 3, failed: 0 })
  const put = await send('/api/settings', { method: 'PUT', body: JSON.stringify({ chunk_size: 1234 }), headers: { 'content-type': 'application/json' } })
  expect(put.status).toBe(200)
  seed.batchFile = input.id
  seed.userFile = notes.id
  seed.batch = created.id
  seed.outputFile = done.output_file_id!
  baseline = snapshot()
  expect(baseline.settingsJson).toContain('1234')
  expect(Object.keys(baseline.files).some((f) => f.startsWith('files/file-'))).toBe(true)
})

afterAll(async () => {
  await services.cleanup()
})

const ALL = cases()

describe('malformed requests', () => {
  it('cover every route, at least 50 of them', () => {
    expect(ALL.length).toBeGreaterThanOrEqual(50)
    const covered = new Set(ALL.map((x) => x.route))
    expect(ROUTES.filter((r) => !covered.has(r)), 'routes without a malformed request').toEqual([])
  })

  it.each(ALL.map((x, i) => [`#${i + 1} ${x.route}: ${x.what} -> ${[x.status].flat().join('/')}`, x] as const))('%s', async (_name, x) => {
    const answer = await x.send()
    const where = `${x.route} (${x.what}): ${answer.status} ${answer.body.slice(0, 500)}`
    // Soft: the stored state below is checked whatever the answer was.
    expect.soft(answer.status, where).toBeLessThan(500)
    expect.soft([x.status].flat(), where).toContain(answer.status)
    expect.soft(answer.headers['content-type'] ?? '', where).toMatch(/^application\/json/)
    let body: unknown = null
    try {
      body = JSON.parse(answer.body)
    } catch {
      // not JSON: the schema check below says so
    }
    expect.soft(() => assertSchema('ErrorResponse', body), where).not.toThrow()
    const error = ((body as { error?: unknown } | null)?.error ?? {}) as { message?: unknown; type?: unknown; param?: unknown; code?: unknown }
    expect.soft(Object.keys(error).sort(), where).toEqual(['code', 'message', 'param', 'type'])
    expect.soft(typeof error.message === 'string' && error.message.trim().length > 0, `${where}: a message`).toBe(true)
    expect.soft(typeof error.type === 'string' && error.type.trim().length > 0, `${where}: a type`).toBe(true)
    if (x.code !== undefined) expect.soft(error.code, where).toBe(x.code)
    if (x.param !== undefined) expect.soft(error.param, where).toBe(x.param)
    // Nothing stored changed: rows, files and settings are as before the first request.
    expect(changes(snapshot(), baseline), `stored state after ${x.route} (${x.what})`).toEqual([])
  })

  it('leaves nothing behind when the client drops mid-upload or mid-body', async () => {
    // The partial upload is written to files/.tmp and must be removed once the server sees the connection go:
    // the folder is watched, so the test waits for exactly that (bounded), not for a while.
    const tmp = path.join(t.dataDir, 'files', '.tmp')
    const seen = new Set<string>()
    const watcher = fs.watch(tmp, (_event, name) => {
      if (name) seen.add(String(name))
    })
    try {
      const m = multipart([{ name: 'purpose', value: 'batch' }, { name: 'file', value: GOOD_JSONL.repeat(100), filename: 'cut.jsonl' }])
      const auth = { authorization: `Bearer ${t.apiKey}` }
      await sendTruncated(t.url, '/v1/files', { ...auth, 'content-type': m.contentType }, m.body.subarray(0, Math.floor(m.body.length / 2)), m.body.length)
      const j = Buffer.from(JSON.stringify({ input_file_id: seed.batchFile, endpoint: '/v1/chat/completions', completion_window: '24h' }))
      await sendTruncated(t.url, '/v1/batches', { ...auth, 'content-type': 'application/json' }, j.subarray(0, j.length - 5), j.length)
      await eventually(() => seen.size > 0 && [...seen].every((name) => !fs.existsSync(path.join(tmp, name))), 'the partial upload to be written, then removed', 20_000)
    } finally {
      watcher.close()
    }
    expect(changes(snapshot(), baseline)).toEqual([])
    // And the service still answers on a fresh connection.
    expect((await send('/v1/models')).status).toBe(200)
  })

  it('left the service serving, with the seeded objects intact', async () => {
    expect(changes(snapshot(), baseline)).toEqual([])
    const files = await t.client.files.list()
    expect(files.data.map((f) => f.id).sort()).toEqual(expect.arrayContaining([seed.batchFile, seed.userFile]))
    expect((await t.client.batches.retrieve(seed.batch)).status).toBe('completed')
    const content = await (await t.client.files.content(seed.batchFile)).text()
    expect(content).toBe(jsonl(3, 'seed'))
  })
})
