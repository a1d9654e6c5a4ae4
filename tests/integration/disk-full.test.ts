import type { Job } from '../../main/contract/jobs'
import net from 'node:net'
import path from 'node:path'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import OpenAI, { toFile } from 'openai'
import { jsonl, listDir, startService, type TestService } from '../helpers/service'
import { eventually, fakeServices } from '../helpers/fake-engine'
import { assertSchema } from '../helpers/openai-schemas'
import { multipart, sendChunked, type RawResponse } from '../helpers/raw-http'
import { mountSmallDisk, unmount } from '../helpers/tmpfs'
import { batchReaches, submitBatch } from '../helpers/batches'

const MiB = 1024 * 1024

// Mounted while the file is collected, so a refusal can skip the tests and say why.
const floorDisk = mountSmallDisk(20)
const fillDisk = typeof floorDisk === 'string' ? mountSmallDisk(20) : floorDisk
const refused = [floorDisk, fillDisk].find((d): d is { refused: string } => typeof d !== 'string')?.refused ?? null
if (refused) console.warn(`disk-full tests skipped: ${refused}`)
const mounts = [floorDisk, fillDisk].filter((d): d is string => typeof d === 'string')
afterAll(() => {
  for (const dir of mounts) unmount(dir)
})

const auth = (t: TestService): Record<string, string> => ({ authorization: `Bearer ${t.apiKey}` })
const tmpFiles = (t: TestService): string[] => listDir(path.join(t.dataDir, 'files', '.tmp'))
const storedFiles = (t: TestService): string[] => listDir(path.join(t.dataDir, 'files')).filter((n) => n.startsWith('file-'))
const rowCount = (t: TestService): number => (t.service.store.db.prepare('SELECT COUNT(*) AS n FROM files').get() as { n: number }).n
const envelope = (res: RawResponse): { error: { message: string; type: string; param: string | null; code: string | null } } =>
  JSON.parse(res.body) as { error: { message: string; type: string; param: string | null; code: string | null } }

/** A chunked multipart upload (no Content-Length) of `fileBytes` bytes, sent in 1 MiB pieces. */
function chunkedUpload(t: TestService, filename: string, fileBytes: number): Promise<RawResponse> {
  const marker = Buffer.from('@@FILE@@')
  const { body, contentType } = multipart([
    { name: 'purpose', value: 'batch' },
    { name: 'file', value: marker, filename },
  ])
  const at = body.indexOf(marker)
  const line = Buffer.from(`${'x'.repeat(1023)}\n`)
  const piece = Buffer.alloc(MiB)
  for (let i = 0; i < MiB; i += line.length) line.copy(piece, i)
  const pieces: Buffer[] = [body.subarray(0, at)]
  for (let left = fileBytes; left > 0; left -= MiB) pieces.push(piece.subarray(0, Math.min(MiB, left)))
  pieces.push(body.subarray(at + marker.length))
  return sendChunked(t.url, '/v1/files', { ...auth(t), 'content-type': contentType }, pieces)
}

/**
 * Sends only the head of an upload that declares `declared` body bytes and waits, bounded, for the answer and for
 * the server to close the connection: a server that needed the body to answer, or kept the connection, fails it.
 */
function headOnly(t: TestService, contentType: string, declared: number): Promise<RawResponse & { closed: boolean }> {
  const { hostname, port } = new URL(t.url)
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    const socket = net.connect(Number(port), hostname, () => {
      const head = { host: `${hostname}:${port}`, ...auth(t), 'content-type': contentType, 'content-length': String(declared) }
      socket.write(`POST /v1/files HTTP/1.1\r\n${Object.entries(head).map(([k, v]) => `${k}: ${v}\r\n`).join('')}\r\n`)
    })
    const timer = setTimeout(() => {
      socket.destroy()
      reject(new Error(`no answer and close within 30 s; got ${JSON.stringify(Buffer.concat(chunks).toString())}`))
    }, 30_000)
    socket.on('data', (c: Buffer) => chunks.push(c))
    socket.on('error', reject)
    socket.on('close', () => {
      clearTimeout(timer)
      const text = Buffer.concat(chunks).toString('utf8')
      const [head, ...rest] = text.split('\r\n\r\n')
      const [statusLine, ...lines] = head.split('\r\n')
      const headers = Object.fromEntries(lines.map((l) => [l.slice(0, l.indexOf(':')).toLowerCase(), l.slice(l.indexOf(':') + 1).trim()]))
      resolve({ status: Number(statusLine.split(' ')[1]), headers, body: rest.join('\r\n\r\n'), closed: true })
    })
  })
}

describe.skipIf(refused !== null)('a 20 MB data disk with a 4 MB floor (VBS_MIN_FREE_MB=4)', () => {
  let t: TestService
  beforeAll(async () => {
    t = await startService({ minFreeMb: 4 }, path.join(floorDisk as string, 'data'))
  })
  afterAll(async () => {
    await t?.stop()
  })

  it('answers an upload declaring more than free space minus the floor with 507 before its body is sent, and closes', async () => {
    const free = t.service.files.disk.freeBytes()
    expect(free).toBeGreaterThan(15 * MiB)
    // It would fit on the disk, but not above the floor.
    const declared = free - 3 * MiB
    const res = await headOnly(t, 'multipart/form-data; boundary=x', declared)
    expect(res.status).toBe(507)
    expect(res.headers.connection).toBe('close')
    expect(res.headers['retry-after']).toBe('60')
    const { error } = envelope(res)
    assertSchema('ErrorResponse', { error })
    expect(error.code).toBe('insufficient_storage')
    expect(error.type).toBe('server_error')
    expect(error.message).toMatch(/MB free/)
    expect(error.message).toContain('at least 4.0 MB must stay free (VBS_MIN_FREE_MB)')
    expect(tmpFiles(t)).toEqual([])
    expect(rowCount(t)).toBe(0)
  })

  it('gives the SDK a 507 insufficient_storage for a file too big for the disk, and stores nothing', async () => {
    const big = Buffer.alloc(17 * MiB, 0x61)
    const err = await t.client.files.create({ file: await toFile(big, 'big.jsonl'), purpose: 'batch' }).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(OpenAI.APIError)
    const e = err as InstanceType<typeof OpenAI.APIError>
    expect(e.status).toBe(507)
    expect(e.code).toBe('insufficient_storage')
    expect(e.message).toContain('VBS_MIN_FREE_MB')
    expect(tmpFiles(t)).toEqual([])
    expect({ files: storedFiles(t).length, rows: rowCount(t) }).toEqual({ files: 0, rows: 0 })
  })

  it('stops a chunked upload with 507 once it reaches the floor, before the disk is full, and keeps nothing', async () => {
    const res = await chunkedUpload(t, 'endless.jsonl', 24 * MiB)
    expect(res.status).toBe(507)
    const { error } = envelope(res)
    assertSchema('ErrorResponse', { error })
    expect(error.code).toBe('insufficient_storage')
    expect(error.message).toContain('it was stopped after')
    expect(error.message).toContain('at least 4.0 MB must stay free (VBS_MIN_FREE_MB)')
    expect(tmpFiles(t)).toEqual([])
    expect({ files: storedFiles(t).length, rows: rowCount(t) }).toEqual({ files: 0, rows: 0 })
    // Stopped at the floor: the disk never ran full.
    expect(t.service.files.disk.full).toBeNull()
    expect(t.service.files.disk.freeBytes()).toBeGreaterThan(15 * MiB)
  })

  it('still takes an upload that fits above the floor', async () => {
    const file = await t.client.files.create({ file: await toFile(Buffer.from(jsonl(20)), 'fits.jsonl'), purpose: 'batch' })
    expect(file.bytes).toBe(Buffer.byteLength(jsonl(20)))
  })
})

describe.skipIf(refused !== null)('a 20 MB data disk that an upload fills (VBS_MIN_FREE_MB=0)', () => {
  let t: TestService
  beforeAll(async () => {
    t = await startService({ minFreeMb: 0 }, path.join(fillDisk as string, 'data'))
  })
  afterAll(async () => {
    await t?.stop()
  })

  it('answers a chunked upload that fills the disk with the 507 envelope, removes its .part, lists nothing, and the disk is usable after', async () => {
    const res = await chunkedUpload(t, 'filler.jsonl', 24 * MiB)
    expect(res.status).toBe(507)
    expect(res.headers['retry-after']).toBe('60')
    const { error } = envelope(res)
    assertSchema('ErrorResponse', { error })
    expect(error).toMatchObject({ type: 'server_error', code: 'insufficient_storage', param: null })
    expect(error.message).toContain('disk is full')
    expect(tmpFiles(t)).toEqual([])
    expect({ files: storedFiles(t).length, rows: rowCount(t) }).toEqual({ files: 0, rows: 0 })
    const listed = await t.client.files.list()
    expect(listed.data.map((f) => f.filename)).not.toContain('filler.jsonl')
    // The failure is remembered for the scheduler and /health until free space is read again.
    expect(t.service.files.disk.full?.reason).toMatch(/ENOSPC/)
    expect(t.service.files.disk.freeBytes()).toBeGreaterThan(15 * MiB)

    // Not left full: a small upload and a batch on it both work.
    const input = await t.client.files.create({ file: await toFile(Buffer.from(jsonl(3)), 'after.jsonl'), purpose: 'batch' })
    const batch = await t.client.batches.create({ input_file_id: input.id, endpoint: '/v1/chat/completions', completion_window: '24h' })
    expect(batch.status).toBe('validating')
    // The disk has room again: the full state ends once the failure is FULL_RECHECK_MS old.
    await eventually(() => t.service.files.disk.refresh(), 'the full state to end', 60_000)
    expect(t.service.files.disk.full).toBeNull()
  })
})

describe('the stored-bytes quota (VBS_MAX_STORED_BYTES)', () => {
  const QUOTA = 200_000
  let t: TestService
  beforeAll(async () => {
    // No floor: these tests must not depend on the free space of the machine's temp dir.
    t = await startService({ maxStoredBytes: QUOTA, minFreeMb: 0 })
  })
  afterAll(async () => {
    await t?.stop()
  })
  const stored = (): number => t.service.files.storedBytes()

  it('takes uploads up to the quota exactly, refuses the one that would pass it with 413, and stores nothing of it', async () => {
    const a = await t.client.files.create({ file: await toFile(Buffer.alloc(120_000, 0x61), 'a.jsonl'), purpose: 'batch' })
    expect(a.bytes).toBe(120_000)
    const before = { files: storedFiles(t).length, rows: rowCount(t) }

    const err = await t.client.files.create({ file: await toFile(Buffer.alloc(80_001, 0x62), 'b.jsonl'), purpose: 'batch' }).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(OpenAI.APIError)
    const e = err as InstanceType<typeof OpenAI.APIError>
    expect(e.status).toBe(413)
    expect(e.code).toBe('storage_quota_exceeded')
    assertSchema('ErrorResponse', { error: e.error })
    expect(e.message).toContain(`storage quota of ${QUOTA} bytes (VBS_MAX_STORED_BYTES)`)
    expect(e.message).toContain('already take 120000 bytes')
    expect({ files: storedFiles(t).length, rows: rowCount(t) }).toEqual(before)
    expect(tmpFiles(t)).toEqual([])

    // What is left fits to the byte, though the body around it is larger.
    const c = await t.client.files.create({ file: await toFile(Buffer.alloc(80_000, 0x63), 'c.jsonl'), purpose: 'batch' })
    expect(c.bytes).toBe(80_000)
    expect(stored()).toBe(QUOTA)

    // Deleting frees quota.
    await t.client.files.delete(a.id)
    const d = await t.client.files.create({ file: await toFile(Buffer.alloc(100_000, 0x64), 'd.jsonl'), purpose: 'batch' })
    expect(d.bytes).toBe(100_000)
    for (const f of [c, d]) await t.client.files.delete(f.id)
    expect(stored()).toBe(0)
  })

  it('refuses an upload declaring far more than the quota before reading it', async () => {
    const { contentType } = multipart([{ name: 'purpose', value: 'batch' }])
    const res = await headOnly(t, contentType, 5 * MiB)
    expect(res.status).toBe(413)
    expect(res.headers.connection).toBe('close')
    const { error } = envelope(res)
    assertSchema('ErrorResponse', { error })
    expect(error).toMatchObject({ code: 'storage_quota_exceeded', type: 'invalid_request_error', param: 'file' })
    expect(tmpFiles(t)).toEqual([])
  })

  it('stops a chunked upload (no Content-Length) that passes the quota with 413, keeping nothing', async () => {
    const before = { files: storedFiles(t).length, rows: rowCount(t) }
    const res = await chunkedUpload(t, 'chunked.jsonl', 3 * MiB)
    expect(res.status).toBe(413)
    expect(envelope(res).error.code).toBe('storage_quota_exceeded')
    expect({ files: storedFiles(t).length, rows: rowCount(t) }).toEqual(before)
    expect(tmpFiles(t)).toEqual([])
    const small = await chunkedUpload(t, 'small.jsonl', 100_000)
    expect(small.status).toBe(200)
    await t.client.files.delete((JSON.parse(small.body) as { id: string }).id)
  })
})

describe('a database that cannot grow (SQLITE_FULL when a file is registered)', () => {
  let t: TestService
  beforeAll(async () => {
    t = await startService({ minFreeMb: 0 })
  })
  afterAll(async () => {
    await t?.stop()
  })

  it('answers 507 insufficient_storage, keeps neither bytes nor .part, and works again once the database may grow', async () => {
    const db = t.service.store.db
    db.pragma('wal_checkpoint(TRUNCATE)')
    // The real SQLite limit: no page may be added, as on a full disk.
    const pages = db.pragma('page_count', { simple: true }) as number
    db.pragma(`max_page_count = ${pages}`)
    let err: unknown
    try {
      // Rows fill the pages there are; one of them needs a new page, within a few hundred uploads.
      for (let i = 0; i < 2000 && err === undefined; i++) {
        await t.client.files
          .create({ file: await toFile(Buffer.from(jsonl(1)), `${'n'.repeat(200)}-${i}.jsonl`), purpose: 'batch' })
          .catch((e: unknown) => {
            err = e
          })
      }
    } finally {
      db.pragma('max_page_count = 1073741823')
    }
    expect(err).toBeInstanceOf(OpenAI.APIError)
    const e = err as InstanceType<typeof OpenAI.APIError>
    expect(e.status).toBe(507)
    expect(e.code).toBe('insufficient_storage')
    expect(e.message).toContain('could not be stored')
    expect(storedFiles(t).length).toBe(rowCount(t))
    expect(tmpFiles(t)).toEqual([])
    expect(t.service.files.disk.full?.reason).toMatch(/full/i)

    const after = await t.client.files.create({ file: await toFile(Buffer.from(jsonl(1)), 'after.jsonl'), purpose: 'batch' })
    expect(after.bytes).toBeGreaterThan(0)
  })
})

/** Lets the database add no page from now on (SQLITE_FULL, as on a full disk); returns the undo. */
function freezeDatabase(t: TestService): () => void {
  const db = t.service.store.db
  db.pragma('wal_checkpoint(TRUNCATE)')
  db.pragma(`max_page_count = ${db.pragma('page_count', { simple: true }) as number}`)
  return () => void db.pragma('max_page_count = 1073741823')
}

interface HealthDoc {
  status: string
  problems: string[]
  disk: { full: boolean; reason: string | null }
}
const healthOf = async (t: TestService): Promise<HealthDoc> => (await (await t.api('/health')).json()) as HealthDoc

describe('a database that cannot grow while batches are created and run', () => {
  const services = fakeServices({ retryBaseMs: 50 })
  afterEach(services.cleanup)

  it('answers batch creation with the 507 envelope and lists no half-made batch', async () => {
    const { t } = await services.boot({}, { minFreeMb: 0 })
    t.service.scheduler.pause()
    const inputs = []
    for (let i = 0; i < 40; i++) inputs.push(await t.client.files.create({ file: await toFile(Buffer.from(jsonl(50, `f${i}`)), `in-${i}.jsonl`), purpose: 'batch' }))
    const before = (await t.client.batches.list({ limit: 100 })).data.length
    const thaw = freezeDatabase(t)
    let err: unknown
    let made = 0
    try {
      for (const input of inputs) {
        const b = await t.client.batches
          .create({ input_file_id: input.id, endpoint: '/v1/chat/completions', completion_window: '24h' })
          .catch((e: unknown) => {
            err = e
            return null
          })
        if (b === null) break
        made += 1
      }
    } finally {
      thaw()
    }
    expect(err).toBeInstanceOf(OpenAI.APIError)
    const e = err as InstanceType<typeof OpenAI.APIError>
    expect([e.status, e.code, e.type]).toEqual([507, 'insufficient_storage', 'server_error'])
    expect(e.message).toContain('disk is full')
    expect(e.message).toContain('nothing of it was stored')
    expect((await t.client.batches.list({ limit: 100 })).data.length).toBe(before + made)
    // Room again: the next batch is taken.
    const after = await t.client.batches.create({ input_file_id: inputs[inputs.length - 1].id, endpoint: '/v1/chat/completions', completion_window: '24h' })
    expect(after.status).toBe('validating')
  })

  it('holds a running job with the reason, /health says disk_full, and the job completes on its own once there is room', async () => {
    const { t } = await services.boot({}, { minFreeMb: 0 })
    t.service.scheduler.pause()
    const n = 1500
    const a = await submitBatch(t, jsonl(n, 'a'))
    await batchReaches(t, a.id, ['in_progress'])
    expect((await healthOf(t)).problems).not.toContain('disk_full')
    const thaw = freezeDatabase(t)
    let thawed = false
    try {
      t.service.scheduler.resume()
      const held = await eventually(async () => {
        const j = (await (await t.api(`/api/batches/${a.id}`)).json()) as Job
        return j.hold?.kind === 'disk_full' && j.hold.detail.startsWith('held: the disk') ? j.hold.detail : null
      }, 'the job held for lack of space', 120_000)
      expect(held).toContain('goes on by itself once space is freed')
      const health = await eventually(async () => {
        const h = await healthOf(t)
        return h.problems.includes('disk_full') ? h : null
      }, '/health to say disk_full')
      expect(health.status).toBe('degraded')
      expect(health.disk.full).toBe(true)
      expect(health.disk.reason).toMatch(/full/i)
      const open = (await (await fetch(`${t.url}/health`)).json()) as HealthDoc
      expect(open.problems).toContain('disk_full')
      expect((await t.client.batches.retrieve(a.id)).status).toBe('in_progress')
      thaw()
      thawed = true
    } finally {
      if (!thawed) thaw()
    }
    const done = await batchReaches(t, a.id, ['completed', 'failed'], 180_000)
    expect(done.status).toBe('completed')
    expect(done.request_counts).toEqual({ total: n, completed: n, failed: 0 })
    const out = (await (await t.client.files.content(done.output_file_id!)).text()).split('\n').filter(Boolean).map((l) => JSON.parse(l) as { custom_id: string; response: { body: { choices: { message: { content: string } }[] } } })
    expect(new Set(out.map((l) => l.custom_id)).size).toBe(n)
    for (const l of out) expect(l.response.body.choices[0].message.content).toBe(`echo: Say ${l.custom_id}`)
    const after = await eventually(async () => {
      const h = await healthOf(t)
      return h.problems.includes('disk_full') ? null : h
    }, '/health to stop saying disk_full')
    expect(after.disk.full).toBe(false)
  })
})

describe('batch outputs and the quota', () => {
  const services = fakeServices({ retryBaseMs: 50 })
  afterEach(services.cleanup)

  it('stores a batch output past the quota (its job must end) and counts it, so the next upload is refused', async () => {
    const input = Buffer.from(jsonl(40))
    const { t } = await services.boot({}, { maxStoredBytes: input.length + 1000, minFreeMb: 0 })
    const file = await t.client.files.create({ file: await toFile(input, 'in.jsonl'), purpose: 'batch' })
    const created = await t.client.batches.create({ input_file_id: file.id, endpoint: '/v1/chat/completions', completion_window: '24h' })
    const done = await eventually(async () => {
      const b = await t.client.batches.retrieve(created.id)
      return ['completed', 'failed', 'expired', 'cancelled'].includes(b.status) ? b : null
    }, `batch ${created.id} to end`, 120_000)
    expect(done.status).toBe('completed')
    const output = await t.client.files.retrieve(done.output_file_id!)
    expect(output.bytes).toBeGreaterThan(1000)
    expect(t.service.files.storedBytes()).toBe(input.length + output.bytes)

    const err = await t.client.files.create({ file: await toFile(Buffer.from(jsonl(1)), 'more.jsonl'), purpose: 'batch' }).catch((e: unknown) => e)
    expect((err as InstanceType<typeof OpenAI.APIError>).status).toBe(413)
    expect((err as InstanceType<typeof OpenAI.APIError>).code).toBe('storage_quota_exceeded')
  })
})
