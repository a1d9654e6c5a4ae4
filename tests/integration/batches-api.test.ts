import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import OpenAI, { toFile } from 'openai'
import { jsonl, requestLine, startService, waitForBatch, type TestService } from '../helpers/service'
import { assertSchema, officialSchemas } from '../helpers/openai-schemas'

let t: TestService

beforeAll(async () => {
  t = await startService({ maxRequestsPerBatch: 20 })
})
afterAll(async () => {
  await t.stop()
})

async function upload(text: string | Buffer, name = 'in.jsonl', client: OpenAI = t.client): Promise<string> {
  const f = await client.files.create({ file: await toFile(Buffer.from(text), name), purpose: 'batch' })
  return f.id
}

async function createBatch(text: string | Buffer, endpoint: OpenAI.BatchCreateParams['endpoint'] = '/v1/chat/completions'): Promise<OpenAI.Batches.Batch> {
  return t.client.batches.create({ input_file_id: await upload(text), endpoint, completion_window: '24h' })
}

describe('POST /v1/batches', () => {
  it('validates a good file to in_progress with every key of the Batch object', async () => {
    const created = await t.client.batches.create({
      input_file_id: await upload(jsonl(12)),
      endpoint: '/v1/chat/completions',
      completion_window: '24h',
      metadata: { project: 'nightly-eval' },
    })
    assertSchema('Batch', created)
    expect(Object.keys(created).sort()).toEqual(Object.keys(officialSchemas.Batch.properties as object).sort())
    expect(created.status).toBe('validating')
    expect(created.expires_at).toBe(created.created_at + 86_400)
    expect(created.output_file_id).toBeNull()
    expect(created.metadata).toEqual({ project: 'nightly-eval' })

    const batch = await waitForBatch(t.client, created.id)
    assertSchema('Batch', batch)
    expect(batch.status).toBe('in_progress')
    expect(batch.request_counts).toEqual({ total: 12, completed: 0, failed: 0 })
    expect(batch.model).toBe('test-model-a')
    expect(batch.errors).toBeNull()
    expect(batch.in_progress_at).toBeGreaterThanOrEqual(batch.created_at)
    expect(batch.failed_at).toBeNull()
    // The index lets later code read any request by offset without loading the file.
    const rows = [...t.service.store.requests.iterate(batch.id, 5)]
    const content = Buffer.from(await (await t.client.files.content(batch.input_file_id)).arrayBuffer())
    expect(rows).toHaveLength(12)
    for (const r of rows) {
      const parsed = JSON.parse(content.subarray(r.offset, r.offset + r.length).toString('utf8')) as { custom_id: string }
      expect(parsed.custom_id).toBe(r.custom_id)
      expect(r.custom_id).toBe(`req-${r.line}`)
    }
  })

  it('accepts aliases of one model, blank lines, CRLF endings and a last line without newline', async () => {
    const text =
      requestLine('x1') + '\r\n\n' + requestLine('x2', {}, { model: 'model-a' }) + '\n   \n' + requestLine('x3', {}, { model: 'a-alias' })
    const batch = await waitForBatch(t.client, (await createBatch(text)).id)
    expect(batch.status).toBe('in_progress')
    expect(batch.request_counts?.total).toBe(3)
    expect(batch.model).toBe('test-model-a')
  })

  it('runs each of the three endpoints', async () => {
    const bodies: [OpenAI.BatchCreateParams['endpoint'], Record<string, unknown>][] = [
      ['/v1/completions', { model: 'test-model-b', prompt: 'Once upon' }],
      ['/v1/embeddings', { model: 'test-model-b', input: 'hello' }],
    ]
    for (const [endpoint, body] of bodies) {
      const line = JSON.stringify({ custom_id: 'e1', method: 'POST', url: endpoint, body })
      const batch = await waitForBatch(t.client, (await createBatch(line + '\n', endpoint)).id)
      expect(batch.status).toBe('in_progress')
      expect(batch.endpoint).toBe(endpoint)
    }
  })

  it('fails a file with every kind of bad line, naming code, param and line for each and nothing for good lines', async () => {
    const lines = [
      requestLine('good-1'), // 1
      '{"custom_id": "broken", ', // 2
      JSON.stringify({ method: 'POST', url: '/v1/chat/completions', body: { model: 'test-model-a', messages: [] } }), // 3
      JSON.stringify({ custom_id: 'no-method', url: '/v1/chat/completions', body: { model: 'test-model-a', messages: [] } }), // 4
      JSON.stringify({ custom_id: 'no-url', method: 'POST', body: { model: 'test-model-a', messages: [] } }), // 5
      JSON.stringify({ custom_id: 'no-body', method: 'POST', url: '/v1/chat/completions' }), // 6
      requestLine('wrong-url', { url: '/v1/embeddings' }), // 7
      requestLine('streams', {}, { stream: true }), // 8
      requestLine('good-1'), // 9: duplicate of line 1
      requestLine('unknown-model', {}, { model: 'gpt-4o' }), // 10
      requestLine('other-model', {}, { model: 'test-model-b' }), // 11
      requestLine('good-2'), // 12
      '[1, 2, 3]', // 13
    ]
    const bytes = Buffer.concat([Buffer.from(lines.join('\n') + '\n'), Buffer.from([0xc3, 0x28, 0x0a])]) // 14: invalid UTF-8
    const batch = await waitForBatch(t.client, (await createBatch(bytes)).id)
    assertSchema('Batch', batch)
    expect(batch.status).toBe('failed')
    expect(batch.failed_at).not.toBeNull()
    expect(batch.in_progress_at).toBeNull()
    const got = batch.errors!.data!.map((e) => [e.line, e.code, e.param])
    expect(got).toEqual([
      [2, 'invalid_json_line', null],
      [3, 'missing_required_parameter', 'custom_id'],
      [4, 'missing_required_parameter', 'method'],
      [5, 'missing_required_parameter', 'url'],
      [6, 'missing_required_parameter', 'body'],
      [7, 'invalid_url', 'url'],
      [8, 'streaming_unsupported', 'body.stream'],
      [9, 'duplicate_custom_id', 'custom_id'],
      [10, 'model_not_found', 'body.model'],
      [11, 'mismatched_model', 'body.model'],
      [13, 'invalid_json_line', null],
      [14, 'invalid_json_line', null],
    ])
    const messages = batch.errors!.data!.map((e) => e.message)
    expect(messages[7]).toBe('line 9: custom_id "good-1" already used on line 1')
    expect(messages[8]).toContain('model "gpt-4o" is not in models.yaml')
    expect(messages[11]).toContain('UTF-8')
    for (const e of batch.errors!.data!) assertSchema('BatchError', e)
    // A failed batch keeps no index rows.
    expect(t.service.store.requests.countByState(batch.id)).toEqual({})
  })

  it('fails an empty file with empty_file and a file over the request limit with too_many_requests', async () => {
    const empty = await waitForBatch(t.client, (await createBatch('\n\n')).id)
    expect(empty.status).toBe('failed')
    expect(empty.errors!.data!.map((e) => [e.code, e.line])).toEqual([['empty_file', null]])

    const tooMany = await waitForBatch(t.client, (await createBatch(jsonl(25))).id)
    expect(tooMany.status).toBe('failed')
    expect(tooMany.errors!.data!.map((e) => [e.code, e.line])).toEqual([['too_many_requests', 21]])
    expect(tooMany.errors!.data![0].message).toContain('20')
  })

  it('fails a 50 MB single line with a clear error and keeps serving', async () => {
    const huge = requestLine('huge', {}, { messages: [{ role: 'user', content: 'y'.repeat(50 * 1024 * 1024) }] })
    const batch = await waitForBatch(t.client, (await createBatch(huge + '\n' + requestLine('small') + '\n')).id)
    expect(batch.status).toBe('failed')
    expect(batch.errors!.data!.map((e) => [e.code, e.line])).toEqual([['request_too_large', 1]])
    expect(batch.errors!.data![0].message).toContain('VBS_MAX_LINE_BYTES')
    expect((await t.client.batches.retrieve(batch.id)).id).toBe(batch.id)
  })

  it('fails a custom_id over 512 characters on its line, saying how long it is', async () => {
    const text = [requestLine('ok-1'), requestLine('ok-2'), requestLine('i'.repeat(600)), requestLine('i'.repeat(512))].join('\n') + '\n'
    const batch = await waitForBatch(t.client, (await createBatch(text)).id)
    expect(batch.status).toBe('failed')
    expect(batch.errors!.data).toEqual([
      { code: 'invalid_value', param: 'custom_id', line: 3, message: 'line 3: custom_id is 600 characters long; at most 512 are allowed' },
    ])
    expect(t.service.store.requests.countByState(batch.id)).toEqual({})
  })

  it('repeats at most about 100 characters of a client value in an error, and keeps a batch\'s errors under 256 KiB', async () => {
    const long = 'z'.repeat(20_000)
    const lines: string[] = [requestLine('u-1', { url: `/v1/${long}` }), requestLine('m-1', {}, { model: long })]
    // 3,000 bad lines whose messages each repeat 100 characters: the 1,000 listed would take about 300 KB.
    for (let i = 1; i <= 3000; i++) lines.push(requestLine(`b-${i}`, { url: `/v1/${'w'.repeat(300)}` }))
    const batch = await waitForBatch(t.client, (await createBatch(lines.join('\n') + '\n')).id)
    expect(batch.status).toBe('failed')
    const data = batch.errors!.data!
    expect(data[0]).toMatchObject({ line: 1, code: 'invalid_url', message: `line 1: url "/v1/${'z'.repeat(96)}"... (20,004 characters) differs from the batch's endpoint "/v1/chat/completions"` })
    expect(data[1]).toMatchObject({ line: 2, code: 'model_not_found', message: `line 2: model "${'z'.repeat(100)}"... (20,000 characters) is not in models.yaml` })
    const raw = await (await t.api(`/v1/batches/${batch.id}`)).text()
    expect(Buffer.byteLength(JSON.stringify(JSON.parse(raw).errors))).toBeLessThanOrEqual(256 * 1024 + 64)
    const listed = data.slice(0, -1)
    expect(listed.map((e) => e.line)).toEqual(listed.map((_, i) => i + 1))
    const rest = data.at(-1)!
    expect(rest).toMatchObject({ code: 'too_many_errors', line: null, param: null })
    expect(rest.message).toBe(`${(3002 - listed.length).toLocaleString('en-US')} more lines have errors that are not listed; fix the ones above and try again`)
    for (const e of data) assertSchema('BatchError', e)

    const res = await t.api('/v1/batches', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ input_file_id: `file-${long}`, endpoint: `/v1/${long}`, completion_window: '24h' }),
    })
    const endpointError = ((await res.json()) as { error: { message: string; param: string } }).error
    expect([res.status, endpointError.param]).toEqual([400, 'endpoint'])
    expect(endpointError.message).toBe(`Invalid endpoint "/v1/${'z'.repeat(96)}"... (20,004 characters): this server runs batches for /v1/chat/completions, /v1/completions, /v1/embeddings.`)
    const missing = await t.api('/v1/batches', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ input_file_id: `file-${long}`, endpoint: '/v1/chat/completions', completion_window: long }),
    })
    const windowError = ((await missing.json()) as { error: { message: string; param: string } }).error
    expect([missing.status, windowError.param, windowError.message.length < 250]).toEqual([400, 'completion_window', true])
    const unknownFile = await t.api('/v1/batches', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ input_file_id: `file-${long}`, endpoint: '/v1/chat/completions', completion_window: '24h' }),
    })
    const fileError = ((await unknownFile.json()) as { error: { message: string; param: string } }).error
    expect([unknownFile.status, fileError.param]).toEqual([404, 'input_file_id'])
    expect(fileError.message).toBe(`No such File object: "file-${'z'.repeat(95)}"... (20,005 characters)`)
    const unknownBatch = await t.api(`/v1/batches/${'z'.repeat(5000)}`)
    expect(unknownBatch.status).toBe(404)
    expect(((await unknownBatch.json()) as { error: { message: string } }).error.message).toBe(`No such Batch object: "${'z'.repeat(100)}"... (5,000 characters)`)
  })

  it('names the parameter of a bad create request and stores nothing', async () => {
    const fileId = await upload(jsonl(1))
    const before = (await t.client.batches.list({ limit: 100 })).data.length
    const cases: [Record<string, unknown>, number, string, string][] = [
      [{ endpoint: '/v1/chat/completions', completion_window: '24h' }, 400, 'missing_required_parameter', 'input_file_id'],
      [{ input_file_id: fileId, completion_window: '24h' }, 400, 'missing_required_parameter', 'endpoint'],
      [{ input_file_id: fileId, endpoint: '/v1/chat/completions' }, 400, 'missing_required_parameter', 'completion_window'],
      [{ input_file_id: fileId, endpoint: '/v1/moderations', completion_window: '24h' }, 400, 'invalid_value', 'endpoint'],
      [{ input_file_id: fileId, endpoint: '/v1/chat/completions', completion_window: '48h' }, 400, 'invalid_value', 'completion_window'],
      [{ input_file_id: 42, endpoint: '/v1/chat/completions', completion_window: '24h' }, 400, 'invalid_type', 'input_file_id'],
      [{ input_file_id: fileId, endpoint: '/v1/chat/completions', completion_window: '24h', metadata: Object.fromEntries(Array.from({ length: 17 }, (_, i) => [`k${i}`, 'v'])) }, 400, 'invalid_value', 'metadata'],
      [{ input_file_id: fileId, endpoint: '/v1/chat/completions', completion_window: '24h', metadata: { ['k'.repeat(65)]: 'v' } }, 400, 'invalid_value', 'metadata'],
      [{ input_file_id: fileId, endpoint: '/v1/chat/completions', completion_window: '24h', metadata: { k: 'v'.repeat(513) } }, 400, 'invalid_value', 'metadata.k'],
      [{ input_file_id: fileId, endpoint: '/v1/chat/completions', completion_window: '24h', metadata: { k: 5 } }, 400, 'invalid_type', 'metadata.k'],
      [{ input_file_id: fileId, endpoint: '/v1/chat/completions', completion_window: '24h', output_expires_after: { anchor: 'created_at', seconds: 60 } }, 400, 'invalid_value', 'output_expires_after.seconds'],
      [{ input_file_id: 'file-doesnotexist', endpoint: '/v1/chat/completions', completion_window: '24h' }, 404, 'null', 'input_file_id'],
    ]
    for (const [body, status, code, param] of cases) {
      const res = await t.api('/v1/batches', { method: 'POST', body: JSON.stringify(body), headers: { 'content-type': 'application/json' } })
      const json = (await res.json()) as { error: { code: string | null; param: string } }
      assertSchema('ErrorResponse', json)
      expect([res.status, String(json.error.code), json.error.param]).toEqual([status, code, param])
    }
    const notJson = await t.api('/v1/batches', { method: 'POST', body: '{"input_file_id":', headers: { 'content-type': 'application/json' } })
    expect(notJson.status).toBe(400)
    assertSchema('ErrorResponse', await notJson.json())
    const userData = (await t.client.files.create({ file: await toFile(Buffer.from(jsonl(1)), 'u.jsonl'), purpose: 'user_data' })).id
    const wrongPurpose = await t.client.batches
      .create({ input_file_id: userData, endpoint: '/v1/chat/completions', completion_window: '24h' })
      .catch((e: unknown) => e as InstanceType<typeof OpenAI.BadRequestError>)
    expect((wrongPurpose as InstanceType<typeof OpenAI.BadRequestError>).status).toBe(400)
    expect((await t.client.batches.list({ limit: 100 })).data.length).toBe(before)
  })
})

describe('GET /v1/batches and cancel', () => {
  it('lists newest first and pages with after/limit/has_more, through SDK v7 and v4', async () => {
    const fresh = await startService()
    try {
      const ids: string[] = []
      for (let i = 0; i < 5; i++) {
        const f = await fresh.client.files.create({ file: await toFile(Buffer.from(jsonl(1)), 'p.jsonl'), purpose: 'batch' })
        ids.push((await fresh.client.batches.create({ input_file_id: f.id, endpoint: '/v1/chat/completions', completion_window: '24h' })).id)
      }
      const first = await fresh.api('/v1/batches?limit=2')
      const body = (await first.json()) as { data: { id: string }[]; has_more: boolean; first_id: string; last_id: string }
      assertSchema('ListBatchesResponse', body)
      expect(body.data.map((b) => b.id)).toEqual([ids[4], ids[3]])
      expect(body).toMatchObject({ has_more: true, first_id: ids[4], last_id: ids[3] })
      const last = (await (await fresh.api(`/v1/batches?limit=2&after=${ids[1]}`)).json()) as { data: { id: string }[]; has_more: boolean }
      expect(last.data.map((b) => b.id)).toEqual([ids[0]])
      expect(last.has_more).toBe(false)

      const seen: string[] = []
      for await (const b of fresh.client.batches.list({ limit: 2 })) seen.push(b.id)
      expect(seen).toEqual([...ids].reverse())
      const seenV4: string[] = []
      for await (const b of fresh.clientV4.batches.list({ limit: 2 })) seenV4.push(b.id)
      expect(seenV4).toEqual([...ids].reverse())
      const bad = await fresh.api('/v1/batches?limit=101')
      expect(bad.status).toBe(400)
    } finally {
      await fresh.stop()
    }
  })

  it('cancels: cancelling at once, then cancelled; cancelling again is allowed', async () => {
    const batch = await waitForBatch(t.client, (await createBatch(jsonl(5))).id)
    expect(batch.status).toBe('in_progress')
    const cancelling = await t.client.batches.cancel(batch.id)
    assertSchema('Batch', cancelling)
    expect(cancelling.status).toBe('cancelling')
    expect(cancelling.cancelling_at).not.toBeNull()
    const done = await waitForBatch(t.client, batch.id, ['cancelling'])
    expect(done.status).toBe('cancelled')
    expect(done.cancelled_at).toBeGreaterThanOrEqual(done.cancelling_at!)
    expect((await t.client.batches.cancel(batch.id)).status).toBe('cancelled')
    // SDK v4: content-type json with an empty body on cancel.
    const v4 = await t.api(`/v1/batches/${batch.id}/cancel`, { method: 'POST', body: '', headers: { 'content-type': 'application/json' } })
    expect(v4.status).toBe(200)
  })

  it('cancels a batch while it is still validating', async () => {
    const created = await createBatch(jsonl(20))
    const cancelled = await t.client.batches.cancel(created.id)
    expect(['cancelling', 'cancelled']).toContain(cancelled.status)
    const done = await waitForBatch(t.client, created.id, ['validating', 'cancelling'])
    expect(done.status).toBe('cancelled')
    expect(t.service.store.requests.countByState(created.id)).toEqual({})
  })

  it('refuses to cancel a failed batch with 409 and x-should-retry: false, without retrying', async () => {
    const failed = await waitForBatch(t.client, (await createBatch('not json\n')).id)
    expect(failed.status).toBe('failed')
    let requests = 0
    const counting = new OpenAI({
      apiKey: t.apiKey,
      baseURL: `${t.url}/v1`,
      maxRetries: 2,
      fetch: (url, init) => {
        requests += 1
        return fetch(url, init)
      },
    })
    const e = (await counting.batches.cancel(failed.id).catch((err: unknown) => err)) as InstanceType<typeof OpenAI.ConflictError>
    expect(e).toBeInstanceOf(OpenAI.ConflictError)
    expect(e.message).toContain("Cannot cancel a batch with status 'failed'.")
    expect(e.headers.get('x-should-retry')).toBe('false')
    expect(requests).toBe(1)
  })

  it('answers unknown and malformed batch ids with 404', async () => {
    for (const id of ['batch_nope', '..%2F..%2Fetc%2Fpasswd', 'batch_' + 'x'.repeat(200)]) {
      const res = await t.api(`/v1/batches/${id}`)
      expect(res.status).toBe(404)
      assertSchema('ErrorResponse', await res.json())
    }
    const e = (await t.client.batches.retrieve('batch_nope').catch((err: unknown) => err)) as InstanceType<typeof OpenAI.NotFoundError>
    expect(e.error).toEqual({ message: 'No such Batch object: batch_nope', type: 'invalid_request_error', param: 'id', code: null })
  })
})

describe('queue limits', () => {
  it('answers 429 with Retry-After beyond VBS_MAX_ACTIVE_BATCHES and VBS_MAX_QUEUED_REQUESTS', async () => {
    const limited = await startService({ maxActiveBatches: 2, maxQueuedRequests: 30 })
    try {
      const make = async (lines: number): Promise<OpenAI.Batches.Batch> => {
        const f = await limited.client.files.create({ file: await toFile(Buffer.from(jsonl(lines)), 'q.jsonl'), purpose: 'batch' })
        return limited.client.batches.create({ input_file_id: f.id, endpoint: '/v1/chat/completions', completion_window: '24h' })
      }
      const a = await make(10)
      const tooBig = (await make(25).catch((e: unknown) => e)) as InstanceType<typeof OpenAI.RateLimitError>
      expect(tooBig).toBeInstanceOf(OpenAI.RateLimitError)
      expect(tooBig.headers.get('retry-after')).toMatch(/^\d+$/)
      expect(tooBig.message).toContain('VBS_MAX_QUEUED_REQUESTS')
      await make(10)
      const third = (await make(1).catch((e: unknown) => e)) as InstanceType<typeof OpenAI.RateLimitError>
      expect(third).toBeInstanceOf(OpenAI.RateLimitError)
      expect(third.message).toContain('VBS_MAX_ACTIVE_BATCHES')
      assertSchema('ErrorResponse', { error: third.error })
      // Ending one batch frees its place.
      await waitForBatch(limited.client, a.id)
      await limited.client.batches.cancel(a.id)
      await waitForBatch(limited.client, a.id, ['cancelling'])
      expect((await make(1)).status).toBe('validating')
    } finally {
      await limited.stop()
    }
  })
})

describe('large files (their index written by a thread of its own)', () => {
  let big: TestService
  beforeAll(async () => {
    big = await startService({ maxRequestsPerBatch: 30_000 })
    // Validation only: nothing runs.
    big.service.scheduler.pause()
  })
  afterAll(async () => {
    await big?.stop()
  })

  const create = async (text: string): Promise<OpenAI.Batches.Batch> => {
    const file = await big.client.files.create({ file: await toFile(Buffer.from(text), 'big.jsonl'), purpose: 'batch' })
    return waitForBatch(big.client, (await big.client.batches.create({ input_file_id: file.id, endpoint: '/v1/chat/completions', completion_window: '24h' })).id)
  }

  it('indexes every request of a 30,000-line file, each row pointing at its own line', async () => {
    const batch = await create(jsonl(30_000, 'big'))
    expect(batch.status).toBe('in_progress')
    expect(batch.request_counts).toEqual({ total: 30_000, completed: 0, failed: 0 })
    const content = Buffer.from(await (await big.client.files.content(batch.input_file_id)).arrayBuffer())
    const rows = [...big.service.store.requests.iterate(batch.id)]
    expect(rows.map((r) => r.line)).toEqual(Array.from({ length: 30_000 }, (_, i) => i + 1))
    for (const r of rows) {
      const line = JSON.parse(content.subarray(r.offset, r.offset + r.length).toString('utf8')) as { custom_id: string }
      expect(line.custom_id).toBe(r.custom_id)
      expect(r.custom_id).toBe(`big-${r.line}`)
    }
  })

  it('fails a large file whose bad line comes late, naming the line, and keeps none of its index', async () => {
    const lines = jsonl(29_000, 'late').split('\n')
    lines[27_999] = requestLine('late-28000', { method: 'GET' })
    const batch = await create(lines.join('\n'))
    expect(batch.status).toBe('failed')
    expect(batch.errors!.data!.map((e) => [e.code, e.line, e.param])).toEqual([['invalid_value', 28_000, 'method']])
    expect(big.service.store.requests.countByState(batch.id)).toEqual({})
  })

  it('fails a large file over the request limit, and keeps none of its index', async () => {
    const batch = await create(jsonl(30_001, 'over'))
    expect(batch.status).toBe('failed')
    expect(batch.errors!.data!.map((e) => [e.code, e.line])).toEqual([['too_many_requests', 30_001]])
    expect(big.service.store.requests.countByState(batch.id)).toEqual({})
  })
})
