import fs from 'node:fs'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import OpenAI, { toFile } from 'openai'
import { toFile as toFileV4 } from 'openai-v4'
import { jsonl, listDir, startService, tempDir, type TestService } from '../helpers/service'
import { assertSchema } from '../helpers/openai-schemas'
import { multipart, sendChunked, sendTruncated } from '../helpers/raw-http'

let t: TestService
const MAX_FILE_BYTES = 2 * 1024 * 1024

beforeAll(async () => {
  t = await startService({ maxFileBytes: MAX_FILE_BYTES })
})
afterAll(async () => {
  await t.stop()
})

const filesDir = (): string => path.join(t.dataDir, 'files')
const storedFiles = (): string[] => listDir(filesDir()).filter((n) => n.startsWith('file-'))
const rowCount = (): number => (t.service.store.db.prepare('SELECT COUNT(*) AS n FROM files').get() as { n: number }).n

describe('POST /v1/files', () => {
  it('stores a streamed upload (openai SDK, fs.createReadStream) byte for byte', async () => {
    const dir = tempDir()
    const source = path.join(dir, 'requests.jsonl')
    fs.writeFileSync(source, jsonl(50))
    const file = await t.client.files.create({ file: fs.createReadStream(source), purpose: 'batch' })
    assertSchema('OpenAIFile', file)
    expect(file).toMatchObject({ object: 'file', filename: 'requests.jsonl', purpose: 'batch', status: 'processed' })
    expect(file.bytes).toBe(fs.statSync(source).size)
    expect(file.id).toMatch(/^file-[A-Za-z0-9]{24}$/)
    const content = await t.client.files.content(file.id)
    expect(Buffer.from(await content.arrayBuffer()).equals(fs.readFileSync(source))).toBe(true)
  })

  it('stores uploads made with toFile, from SDK v7 and SDK v4, with any bytes intact', async () => {
    const bytes = Buffer.concat([Buffer.from(jsonl(3)), Buffer.from([0xff, 0xfe, 0x00, 0x0a]), Buffer.from('héllo ✓\n')])
    const a = await t.client.files.create({ file: await toFile(bytes, 'a.jsonl'), purpose: 'batch' })
    const b = await t.clientV4.files.create({ file: await toFileV4(bytes, 'b.jsonl'), purpose: 'batch' })
    for (const f of [a, b]) {
      assertSchema('OpenAIFile', f)
      const content = await t.client.files.content(f.id)
      expect(Buffer.from(await content.arrayBuffer()).equals(bytes)).toBe(true)
    }
    expect(b.filename).toBe('b.jsonl')
  })

  it('accepts the file part before or after purpose, in a chunked body without Content-Length', async () => {
    const data = jsonl(5)
    for (const order of [['file', 'purpose'], ['purpose', 'file']]) {
      const parts = order.map((name) =>
        name === 'file' ? { name, value: data, filename: `${order[0]}-first.jsonl` } : { name, value: 'batch' },
      )
      const { body, contentType } = multipart(parts)
      const res = await sendChunked(t.url, '/v1/files', { authorization: `Bearer ${t.apiKey}`, 'content-type': contentType }, [
        body.subarray(0, 17),
        body.subarray(17, 200),
        body.subarray(200),
      ])
      expect(res.status).toBe(200)
      const file = JSON.parse(res.body) as OpenAI.FileObject
      expect(file.bytes).toBe(Buffer.byteLength(data))
      const content = await t.client.files.content(file.id)
      expect(await content.text()).toBe(data)
    }
  })

  it('answers 400 "File is too large." past VBS_MAX_FILE_BYTES and keeps nothing', async () => {
    const before = { files: storedFiles().length, rows: rowCount() }
    const big = Buffer.alloc(MAX_FILE_BYTES + 1, 0x61)
    const err = await t.client.files.create({ file: await toFile(big, 'big.jsonl'), purpose: 'batch' }).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(OpenAI.BadRequestError)
    const e = err as InstanceType<typeof OpenAI.BadRequestError>
    expect(e.status).toBe(400)
    expect(e.message).toContain('File is too large.')
    assertSchema('ErrorResponse', { error: e.error })
    expect({ files: storedFiles().length, rows: rowCount() }).toEqual(before)
    expect(listDir(path.join(filesDir(), '.tmp'))).toEqual([])
  })

  it('refuses a batch file that is not .jsonl, a missing or unknown purpose, and a missing file', async () => {
    const cases: [() => Promise<unknown>, string, string | null][] = [
      [async () => t.client.files.create({ file: await toFile(Buffer.from(jsonl(1)), 'data.json'), purpose: 'batch' }), 'Invalid file format for Batch API. Must be .jsonl', 'file'],
      [async () => t.client.files.create({ file: await toFile(Buffer.from('x'), 'a.jsonl'), purpose: 'nonsense' as 'batch' }), "Invalid value for 'purpose'", 'purpose'],
    ]
    for (const [call, message, param] of cases) {
      const e = (await call().catch((err: unknown) => err)) as InstanceType<typeof OpenAI.BadRequestError>
      expect(e.status).toBe(400)
      expect(e.message).toContain(message)
      expect((e.error as { param: string | null }).param).toBe(param)
    }
    const noPurpose = multipart([{ name: 'file', value: 'x', filename: 'a.jsonl' }])
    const noFile = multipart([{ name: 'purpose', value: 'batch' }])
    for (const [m, param] of [[noPurpose, 'purpose'], [noFile, 'file']] as const) {
      const res = await t.api('/v1/files', { method: 'POST', body: new Uint8Array(m.body), headers: { 'content-type': m.contentType } })
      expect(res.status).toBe(400)
      const body = (await res.json()) as { error: { code: string; param: string } }
      assertSchema('ErrorResponse', body)
      expect(body.error).toMatchObject({ code: 'missing_required_parameter', param })
    }
    expect(listDir(path.join(filesDir(), '.tmp'))).toEqual([])
  })

  it('answers malformed multipart with a 400 envelope and stays up', async () => {
    const before = { files: storedFiles().length, rows: rowCount() }
    const bodies: [string, string | Buffer][] = [
      ['multipart/form-data; boundary=abc', '--abc\r\nContent-Disposition: form-data; name="file"; filename="a.jsonl"\r\n\r\nhalf a part with no end'],
      ['multipart/form-data', 'no boundary at all'],
      ['text/plain', 'purpose=batch'],
      ['multipart/form-data; boundary=abc', Buffer.from([0xde, 0xad, 0xbe, 0xef])],
    ]
    for (const [contentType, body] of bodies) {
      const res = await t.api('/v1/files', { method: 'POST', body: typeof body === 'string' ? body : new Uint8Array(body), headers: { 'content-type': contentType } })
      expect(res.status).toBe(400)
      expect(res.headers.get('content-type')).toMatch(/^application\/json/)
      expect(res.headers.get('x-request-id')).toBeTruthy()
      assertSchema('ErrorResponse', await res.json())
    }
    expect((await fetch(`${t.url}/health`)).status).toBe(200)
    expect({ files: storedFiles().length, rows: rowCount() }).toEqual(before)
    expect(listDir(path.join(filesDir(), '.tmp'))).toEqual([])
  })

  it('leaves no file and no row when the client goes away mid-upload', async () => {
    const before = { files: storedFiles().length, rows: rowCount() }
    const { body, contentType } = multipart([
      { name: 'purpose', value: 'batch' },
      { name: 'file', value: Buffer.from(jsonl(2000)), filename: 'cut.jsonl' },
    ])
    const sent = body.subarray(0, Math.floor(body.length / 2))
    await sendTruncated(t.url, '/v1/files', { authorization: `Bearer ${t.apiKey}`, 'content-type': contentType }, sent, body.length)
    // The server notices the closed socket on its own schedule: wait (bounded) until its temp file is gone.
    const deadline = Date.now() + 30_000
    while (listDir(path.join(filesDir(), '.tmp')).length > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20))
    expect(listDir(path.join(filesDir(), '.tmp'))).toEqual([])
    expect({ files: storedFiles().length, rows: rowCount() }).toEqual(before)
    expect((await fetch(`${t.url}/health`)).status).toBe(200)
  })
})

describe('GET, list and DELETE /v1/files', () => {
  it('pages through more than one page with the SDK, in both orders, filtered by purpose', async () => {
    const fresh = await startService()
    try {
      const ids: string[] = []
      for (let i = 0; i < 5; i++) {
        const f = await fresh.client.files.create({ file: await toFile(Buffer.from(jsonl(1)), `f${i}.jsonl`), purpose: 'batch' })
        ids.push(f.id)
      }
      await fresh.client.files.create({ file: await toFile(Buffer.from('notes'), 'notes.txt'), purpose: 'user_data' })

      const page = await fresh.client.files.list({ limit: 2, purpose: 'batch' })
      expect(page.data.map((f) => f.id)).toEqual([ids[4], ids[3]])
      expect(page.has_more).toBe(true)

      const desc: string[] = []
      for await (const f of fresh.client.files.list({ limit: 2, purpose: 'batch' })) desc.push(f.id)
      expect(desc).toEqual([...ids].reverse())

      const asc: string[] = []
      for await (const f of fresh.clientV4.files.list({ limit: 2, purpose: 'batch', order: 'asc' })) asc.push(f.id)
      expect(asc).toEqual(ids)

      const all: string[] = []
      for await (const f of fresh.client.files.list()) all.push(f.filename)
      expect(all).toHaveLength(6)
      expect(all[0]).toBe('notes.txt')

      const raw = await fresh.api('/v1/files?limit=2&order=asc')
      const body = (await raw.json()) as Record<string, unknown>
      assertSchema('ListFilesResponse', body)
      expect(body).toMatchObject({ object: 'list', first_id: ids[0], last_id: ids[1], has_more: true })
      const bad = await fresh.api('/v1/files?limit=0')
      expect(bad.status).toBe(400)
      expect(((await bad.json()) as { error: { param: string } }).error.param).toBe('limit')
    } finally {
      await fresh.stop()
    }
  })

  it('retrieves a file, deletes it, and then answers 404 for it', async () => {
    const f = await t.client.files.create({ file: await toFile(Buffer.from(jsonl(2)), 'gone.jsonl'), purpose: 'batch' })
    const got = await t.client.files.retrieve(f.id)
    assertSchema('OpenAIFile', got)
    expect(got).toEqual(f)
    const deleted = await t.client.files.delete(f.id)
    assertSchema('DeleteFileResponse', deleted)
    expect(deleted).toEqual({ id: f.id, object: 'file', deleted: true })
    expect(storedFiles()).not.toContain(f.id)
    for (const call of [() => t.client.files.retrieve(f.id), () => t.client.files.content(f.id), () => t.client.files.delete(f.id)]) {
      const e = (await call().catch((err: unknown) => err)) as InstanceType<typeof OpenAI.NotFoundError>
      expect(e).toBeInstanceOf(OpenAI.NotFoundError)
      expect(e.error).toEqual({ message: `No such File object: ${f.id}`, type: 'invalid_request_error', param: 'id', code: null })
    }
  })

  it('refuses with 409 to delete the input of a batch that is still running', async () => {
    const f = await t.client.files.create({ file: await toFile(Buffer.from(jsonl(3)), 'in.jsonl'), purpose: 'batch' })
    const batch = await t.client.batches.create({ input_file_id: f.id, endpoint: '/v1/chat/completions', completion_window: '24h' })
    const e = (await t.client.files.delete(f.id).catch((err: unknown) => err)) as InstanceType<typeof OpenAI.ConflictError>
    expect(e.status).toBe(409)
    expect(e.message).toContain(batch.id)
    expect(e.headers.get('x-should-retry')).toBe('false')
    expect((await t.client.files.retrieve(f.id)).id).toBe(f.id)
    await t.client.batches.cancel(batch.id)
  })

  it('answers path-like and malformed ids with 404, never touching the disk outside the data dir', async () => {
    for (const id of ['..%2F..%2Fetc%2Fpasswd', '..%2F..%2F..%2Fetc%2Fpasswd/content', 'file-..', '%2e%2e', 'file-abc%00', 'file-' + 'a'.repeat(300)]) {
      const res = await t.api(`/v1/files/${id}`)
      expect(res.status).toBe(404)
      const body = (await res.json()) as { error: { message: string } }
      assertSchema('ErrorResponse', body)
      expect(body.error.message).not.toContain('root:')
    }
    const res = await t.api('/v1/files/..%2F..%2Fetc%2Fpasswd/content')
    expect(res.status).toBe(404)
    expect(await res.text()).not.toContain('root:')
  })

  it('accepts SDK v4 habits: content-type json with an empty body on GET and DELETE', async () => {
    const f = await t.client.files.create({ file: await toFile(Buffer.from(jsonl(1)), 'v4.jsonl'), purpose: 'batch' })
    const headers = { 'content-type': 'application/json', 'x-stainless-lang': 'js', 'openai-organization': 'org-x', 'user-agent': 'OpenAI/JS 4.104.0' }
    expect((await t.api(`/v1/files/${f.id}`, { headers })).status).toBe(200)
    expect((await t.api('/v1/files', { headers })).status).toBe(200)
    const del = await t.api(`/v1/files/${f.id}`, { method: 'DELETE', headers, body: '' })
    expect(del.status).toBe(200)
    expect(await del.json()).toEqual({ id: f.id, object: 'file', deleted: true })
  })
})

describe('file expiry', () => {
  it('sets expires_at from expires_after, refuses a bad policy, and deletes the file once it has expired', async () => {
    const f = await t.client.files.create({
      file: await toFile(Buffer.from('notes'), 'notes.txt'),
      purpose: 'user_data',
      expires_after: { anchor: 'created_at', seconds: 3600 },
    })
    assertSchema('OpenAIFile', f)
    expect(f.expires_at).toBe(f.created_at + 3600)
    const bad = (await t.client.files
      .create({ file: await toFile(Buffer.from('x'), 'x.txt'), purpose: 'user_data', expires_after: { anchor: 'created_at', seconds: 10 } })
      .catch((e: unknown) => e)) as InstanceType<typeof OpenAI.BadRequestError>
    expect(bad.status).toBe(400)
    expect((bad.error as { param: string }).param).toBe('expires_after.seconds')

    expect(t.service.files.sweepExpired(f.created_at + 3599)).not.toContain(f.id)
    expect(t.service.files.sweepExpired(f.created_at + 3600)).toContain(f.id)
    expect(await t.client.files.retrieve(f.id).catch((e: unknown) => (e as { status: number }).status)).toBe(404)
    expect(storedFiles()).not.toContain(f.id)
  })
})
