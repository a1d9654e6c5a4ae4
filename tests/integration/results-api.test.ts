import { afterEach, describe, expect, it } from 'vitest'
import type { ErrorEnvelope, FinishReasonList, ResultDetail, ResultPage } from '../../main/contract'
import { requestLine, type TestService } from '../helpers/service'
import { eventually, fakeServices } from '../helpers/fake-engine'
import { batchReaches as until, submitBatch as submit } from '../helpers/batches'

const services = fakeServices({ retryBaseMs: 50 })
const boot = services.boot
afterEach(services.cleanup)

const FRUITS = ['apple', 'banana', 'cherry']

/** 30 chat requests: fruit i%3 in each prompt, two of them rejected by the engine (empty messages). */
function fruitBatch(): string {
  const lines: string[] = []
  for (let i = 1; i <= 30; i++) {
    const id = `q-${i}`
    if (i === 7 || i === 19) lines.push(requestLine(id, {}, { messages: [] }))
    else lines.push(requestLine(id, {}, { messages: [{ role: 'user', content: `Tell me about the ${FRUITS[i % 3]} number ${i}` }] }))
  }
  return lines.join('\n')
}

async function results(t: TestService, id: string, query = ''): Promise<ResultPage> {
  const res = await t.api(`/api/batches/${id}/results${query}`)
  expect(res.status).toBe(200)
  return (await res.json()) as ResultPage
}

describe('results of a batch', () => {
  it('pages every request in input order with state, status, latency, usage and a preview of the answer', async () => {
    const { t } = await boot()
    const done = await until(t, (await submit(t, fruitBatch())).id, ['completed'])
    expect(done.request_counts).toEqual({ total: 30, completed: 28, failed: 2 })

    const first = await results(t, done.id, '?limit=10')
    expect(first.total).toBe(30)
    expect(first.has_more).toBe(true)
    expect(first.data.map((r) => r.line)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10])
    const one = first.data[0]
    expect(one).toMatchObject({ custom_id: 'q-1', state: 'succeeded', status_code: 200, finish_reason: 'stop', preview: 'echo: Tell me about the banana number 1' })
    expect(one.latency_ms).toBeGreaterThanOrEqual(0)
    expect(one.usage!.input_tokens).toBeGreaterThan(0)
    expect(one.usage!.output_tokens).toBeGreaterThan(0)
    const rejected = first.data[6]
    expect(rejected).toMatchObject({ custom_id: 'q-7', state: 'failed', status_code: 400 })
    expect(rejected.preview).toContain('messages')

    const last = await results(t, done.id, '?offset=25&limit=10')
    expect(last.data.map((r) => r.custom_id)).toEqual(['q-26', 'q-27', 'q-28', 'q-29', 'q-30'])
    expect(last.has_more).toBe(false)

    const failed = await results(t, done.id, '?state=failed')
    expect(failed.data.map((r) => r.custom_id)).toEqual(['q-7', 'q-19'])
    expect(failed.total).toBe(2)
    expect((await results(t, done.id, '?state=succeeded')).total).toBe(28)
    expect((await results(t, done.id, '?state=pending')).total).toBe(0)
    expect((await results(t, done.id, '?finish_reason=stop')).total).toBe(28)
    expect((await results(t, done.id, '?finish_reason=length')).total).toBe(0)
  })

  it('searches the prompts and the answers in full text, with the filters, and names a bad parameter', async () => {
    const { t } = await boot()
    const done = await until(t, (await submit(t, fruitBatch())).id, ['completed'])

    const cherries = await results(t, done.id, '?q=cherry')
    // i % 3 === 2: 2, 5, 8, ..., 29 (10 lines), none of them rejected
    expect(cherries.data.map((r) => r.custom_id)).toEqual([2, 5, 8, 11, 14, 17, 20, 23, 26, 29].map((i) => `q-${i}`))
    expect(cherries.total).toBe(10)
    // Words must all match; a prefix of the last word matches as one types; case and accents do not matter.
    expect((await results(t, done.id, `?q=${encodeURIComponent('BANANA number 1')}`)).data.map((r) => r.custom_id)).toEqual(['q-1'])
    expect((await results(t, done.id, '?q=appl')).total).toBe(10) // apple: i % 3 === 0, 3 to 30
    expect((await results(t, done.id, `?q=${encodeURIComponent('"number 2"')}`)).data.map((r) => r.custom_id)).toEqual(['q-2'])
    // A short last word is a whole word: 2 is not 20.
    expect((await results(t, done.id, `?q=${encodeURIComponent('cherry number 2')}`)).data.map((r) => r.custom_id)).toEqual(['q-2'])
    // FTS syntax in the text is searched as words, never run as a query.
    expect((await results(t, done.id, `?q=${encodeURIComponent('apple OR NEAR( "*')}`)).total).toBe(0)
    // The errors are searched too.
    const errors = await results(t, done.id, '?q=messages&state=failed')
    expect(errors.data.map((r) => r.custom_id)).toEqual(['q-7', 'q-19'])

    for (const [query, param] of [['?state=done', 'state'], ['?offset=-1', 'offset'], ['?limit=0', 'limit'], ['?limit=501', 'limit']] as const) {
      const res = await t.api(`/api/batches/${done.id}/results${query}`)
      expect(res.status).toBe(400)
      expect(((await res.json()) as ErrorEnvelope).error.param).toBe(param)
    }
    const unknown = await t.api('/api/batches/batch_nope/results')
    expect(unknown.status).toBe(404)
  })

  it('shows one request in full: as sent, the whole answer or error, usage, attempts and timings', async () => {
    const { t } = await boot()
    const text = [requestLine('a/slash id'), requestLine('bad', {}, { messages: [] })].join('\n')
    const done = await until(t, (await submit(t, text)).id, ['completed'])

    const res = await t.api(`/api/batches/${done.id}/results/${encodeURIComponent('a/slash id')}`)
    expect(res.status).toBe(200)
    const detail = (await res.json()) as ResultDetail
    expect(detail).toMatchObject({ line: 1, custom_id: 'a/slash id', state: 'succeeded', attempts: 1, error: null })
    expect(detail.request).toEqual(JSON.parse(requestLine('a/slash id')))
    const body = detail.response!.body as { choices: { message: { content: string } }[]; usage: { completion_tokens: number } }
    expect(detail.response!.status_code).toBe(200)
    expect(body.choices[0].message.content).toBe('echo: Say a/slash id')
    expect(detail.usage!.output_tokens).toBe(body.usage.completion_tokens)
    expect(detail.finished_at!).toBeGreaterThanOrEqual(detail.started_at!)

    const bad = (await (await t.api(`/api/batches/${done.id}/results/bad`)).json()) as ResultDetail
    expect(bad.state).toBe('failed')
    expect(bad.response!.status_code).toBe(400)
    expect(JSON.stringify(bad.response!.body)).toContain('messages')

    const missing = await t.api(`/api/batches/${done.id}/results/nobody`)
    expect(missing.status).toBe(404)
    expect(((await missing.json()) as ErrorEnvelope).error.message).toContain('"nobody"')
  })

  it('counts the finish reasons of a batch\'s answers, most frequent first: the choices of the finish_reason filter', async () => {
    const { t } = await boot()
    // Every third request asks for at most 2 tokens: the engine cuts it short (length); two are rejected (no answer).
    const lines = Array.from({ length: 12 }, (_, i) =>
      i === 4 || i === 10
        ? requestLine(`f-${i + 1}`, {}, { messages: [] })
        : requestLine(`f-${i + 1}`, {}, { messages: [{ role: 'user', content: `a long enough question number ${i + 1}` }], ...(i % 3 === 0 ? { max_tokens: 2 } : {}) }),
    )
    const done = await until(t, (await submit(t, lines.join('\n'))).id, ['completed'])
    expect(done.request_counts).toEqual({ total: 12, completed: 10, failed: 2 })

    const res = await t.api(`/api/batches/${done.id}/finish-reasons`)
    expect(res.status).toBe(200)
    const reasons = (await res.json()) as FinishReasonList
    // i % 3 === 0: lines 1, 4, 7, 10 are cut; the rest that were answered stop.
    expect(reasons).toEqual({ object: 'list', data: [{ finish_reason: 'stop', count: 6 }, { finish_reason: 'length', count: 4 }] })
    // Each one, used as the filter, finds as many requests as it counts.
    for (const r of reasons.data) expect((await results(t, done.id, `?finish_reason=${r.finish_reason}`)).total).toBe(r.count)
    expect((await results(t, done.id, '?finish_reason=length')).data.map((r) => r.custom_id)).toEqual(['f-1', 'f-4', 'f-7', 'f-10'])
    const cut = (await (await t.api(`/api/batches/${done.id}/results/f-4`)).json()) as ResultDetail
    expect((cut.response!.body as { choices: { message: { content: string } }[] }).choices[0].message.content).toBe('echo: a')

    // A batch with no answers yet has none; an unknown batch is a 404.
    const empty = await submit(t, requestLine('e-1', {}, { messages: [] }))
    await until(t, empty.id, ['completed', 'failed'])
    expect(((await (await t.api(`/api/batches/${empty.id}/finish-reasons`)).json()) as FinishReasonList).data).toEqual([])
    const unknown = await t.api('/api/batches/batch_nope/finish-reasons')
    expect(unknown.status).toBe(404)
    expect(((await unknown.json()) as ErrorEnvelope).error.message).toContain('batch_nope')
  })

  it('fills in while the batch runs: pending rows first, answered ones searchable as they are committed', async () => {
    const { t } = await boot({ FAKE_VLLM_LATENCY_MS: '40' }, { chunkSize: 20 })
    const lines = Array.from({ length: 200 }, (_, i) => requestLine(`r-${i + 1}`, {}, { messages: [{ role: 'user', content: `kiwi ${i + 1}` }] }))
    const created = await submit(t, lines.join('\n'))
    const midway = await eventually(async () => {
      const page = await results(t, created.id, '?state=succeeded&limit=1')
      const pending = await results(t, created.id, '?state=pending&limit=1')
      return page.total > 0 && pending.total > 0 ? { done: page.total, pending: pending.total } : null
    }, 'some answers committed and some still pending')
    expect(midway.done + midway.pending).toBeLessThanOrEqual(200)
    expect((await results(t, created.id, '?q=kiwi')).total).toBeGreaterThan(0)
    await until(t, created.id, ['completed'])
    expect((await results(t, created.id, '?q=kiwi')).total).toBe(200)
    expect((await results(t, created.id, '?state=pending')).total).toBe(0)
  })
})
