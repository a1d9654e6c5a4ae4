import { afterEach, describe, expect, it } from 'vitest'
import { toFile } from 'openai'
import type { Comparison, ComparisonRowPage, ErrorEnvelope, Vote } from '../../main/contract'
import { wilsonInterval } from '../../main/compare/stats'
import { requestLine, type TestService } from '../helpers/service'
import { fakeServices } from '../helpers/fake-engine'
import { batchReaches as until, submitBatch as submit } from '../helpers/batches'

// test-model-b answers as a second opinion (FAKE_VLLM_VARIANT): [shout] upper-cases its answer (the same once
// normalised), [flip] reverses its words (a different answer); other lines get the same answer from both.
const services = fakeServices({ retryBaseMs: 50 })
afterEach(services.cleanup)
const boot = (overrides = {}) => services.boot({ FAKE_VLLM_VARIANT: 'test-model-b' }, overrides)

const KINDS = ['plain', 'plain', 'shout', 'plain', 'flip', 'plain', 'shout', 'plain', 'flip', 'shout', 'plain', 'flip']

/** 12 chat lines written for a hosted model (the comparison runs them on ours); custom_ids c-1..c-12. */
function abFile(): string {
  return KINDS.map((kind, i) => {
    const word = kind === 'plain' ? '' : ` [${kind}]`
    return requestLine(`c-${i + 1}`, {}, { model: 'gpt-4o-mini', messages: [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: `Question ${i + 1}${word}` }] })
  }).join('\n')
}

async function api<T>(t: TestService, path: string, init?: { method: string; body?: unknown }): Promise<{ status: number; body: T }> {
  const res = await t.api(path, init ? { method: init.method, headers: { 'content-type': 'application/json' }, body: init.body === undefined ? undefined : JSON.stringify(init.body) } : undefined)
  return { status: res.status, body: (await res.json()) as T }
}

async function exported(t: TestService, id: string, format: string): Promise<{ type: string | null; lines: string[] }> {
  const res = await t.api(`/api/comparisons/${id}/export?format=${format}`)
  expect(res.status).toBe(200)
  const text = await res.text()
  return { type: res.headers.get('content-type'), lines: text.split(format === 'csv' ? '\r\n' : '\n').filter((l) => l !== '') }
}

describe('A/B comparisons', () => {
  it('runs one file on two models: one batch each, one load each, rows aligned, agreement, votes, win rate and exports', async () => {
    const { t, fake } = await boot()
    const file = await t.client.files.create({ file: await toFile(Buffer.from(abFile()), 'ab.jsonl'), purpose: 'batch' })
    const created = await api<Comparison>(t, '/api/comparisons', { method: 'POST', body: { input_file_id: file.id, models: ['test-model-a', 'model-b'], name: 'brief answers' } })
    expect(created.status).toBe(201)
    const c = created.body
    expect(c).toMatchObject({ object: 'comparison', name: 'brief answers', input_file_id: file.id, models: ['test-model-a', 'test-model-b'], rows: expect.any(Number) })
    expect(c.arms).toHaveLength(2)

    const done = await Promise.all(c.arms.map((a) => until(t, a.batch_id, ['completed', 'failed'])))
    expect(done.map((b) => [b.status, b.model, b.request_counts])).toEqual([
      ['completed', 'test-model-a', { total: 12, completed: 12, failed: 0 }],
      ['completed', 'test-model-b', { total: 12, completed: 12, failed: 0 }],
    ])
    expect(done[0].metadata).toEqual({ comparison_id: c.id, model: 'test-model-a' })
    // Queued one after the other: each model was loaded once, a's batch before b's.
    expect(fake.launches().map((l) => l.served[0])).toEqual(['test-model-a', 'test-model-b'])

    const view = (await api<Comparison>(t, `/api/comparisons/${c.id}`)).body
    expect(view.rows).toBe(12)
    for (const arm of view.arms) {
      expect(arm).toMatchObject({ status: 'completed', total: 12, completed: 12, failed: 0 })
      // 6 plain lines agree exactly; with the 3 shouted ones, 9 agree once normalised.
      expect(arm.agreement).toEqual({ exact: 0.5, normalized: 0.75 })
      expect(arm.mean_latency_ms).toBeGreaterThanOrEqual(0)
      expect(arm.p95_latency_ms).toBeGreaterThanOrEqual(0)
      expect(arm.tokens_per_second).toBeGreaterThan(0)
      expect(arm.mean_output_tokens).toBeGreaterThan(0)
      expect(arm.win_rate).toBeNull()
    }

    const page = (await api<ComparisonRowPage>(t, `/api/comparisons/${c.id}/rows?limit=5`)).body
    expect(page).toMatchObject({ total: 12, has_more: true })
    expect(page.data.map((r) => r.custom_id)).toEqual(['c-1', 'c-2', 'c-3', 'c-4', 'c-5'])
    const shout = page.data[2]
    expect(shout.prompt).toEqual([{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'Question 3 [shout]' }])
    expect(shout.answers['test-model-a']).toMatchObject({ state: 'succeeded', text: 'echo: Question 3 [shout]' })
    expect(shout.answers['test-model-b']).toMatchObject({ state: 'succeeded', text: 'ECHO: QUESTION 3 [SHOUT]!' })
    expect(shout.differs).toBe(false)
    expect(page.data[4].answers['test-model-b']!.text).toBe('[flip] 5 Question echo:')
    expect(page.data[4].differs).toBe(true)

    const differences = (await api<ComparisonRowPage>(t, `/api/comparisons/${c.id}/rows?differences=true`)).body
    expect(differences.data.map((r) => r.custom_id)).toEqual(['c-5', 'c-9', 'c-12'])
    expect(differences.total).toBe(3)
    const searched = (await api<ComparisonRowPage>(t, `/api/comparisons/${c.id}/rows?q=shout`)).body
    expect(searched.data.map((r) => r.custom_id)).toEqual(['c-3', 'c-7', 'c-10'])

    const votes: [string, string, string | null][] = [['c-1', 'test-model-a', 'shorter'], ['c-5', 'test-model-a', null], ['c-9', 'test-model-b', 'more direct'], ['c-3', 'tie', null], ['c-12', 'both_bad', 'neither reads well']]
    for (const [cid, winner, note] of votes) {
      const v = await api<Vote>(t, `/api/comparisons/${c.id}/votes/${cid}`, { method: 'PUT', body: { winner, note } })
      expect(v.status).toBe(200)
      expect(v.body).toMatchObject({ custom_id: cid, winner, note })
    }
    // A vote cast again replaces the first.
    await api<Vote>(t, `/api/comparisons/${c.id}/votes/c-1`, { method: 'PUT', body: { winner: 'test-model-a', note: 'shorter and right' } })
    const voted = (await api<Comparison>(t, `/api/comparisons/${c.id}`)).body
    expect(voted.votes).toEqual({ total: 5, tie: 1, both_bad: 1 })
    const [a, b] = voted.arms
    expect([a.wins, a.win_rate, a.win_rate_interval]).toEqual([2, 0.4, wilsonInterval(2, 5)])
    expect([b.wins, b.win_rate, b.win_rate_interval]).toEqual([1, 0.2, wilsonInterval(1, 5)])
    expect(a.win_rate_interval![0]).toBeLessThan(0.4)
    expect(a.win_rate_interval![1]).toBeGreaterThan(0.4)
    expect((await api<ComparisonRowPage>(t, `/api/comparisons/${c.id}/rows?limit=1`)).body.data[0].vote).toMatchObject({ winner: 'test-model-a', note: 'shorter and right' })

    for (const [body, param] of [[{ winner: 'gpt-4' }, 'winner'], [{}, 'winner'], [{ winner: 'tie', note: 7 }, 'note']] as const) {
      const bad = await api<ErrorEnvelope>(t, `/api/comparisons/${c.id}/votes/c-2`, { method: 'PUT', body })
      expect(bad.status).toBe(400)
      expect(bad.body.error.param).toBe(param)
    }
    const nobody = await api<ErrorEnvelope>(t, `/api/comparisons/${c.id}/votes/c-99`, { method: 'PUT', body: { winner: 'tie' } })
    expect(nobody.status).toBe(404)
    expect((await api<Comparison>(t, `/api/comparisons/${c.id}`)).body.votes.total).toBe(5)

    // CSV: a header and one line per row, quoted where needed.
    const csv = await exported(t, c.id, 'csv')
    expect(csv.type).toContain('text/csv')
    expect(csv.lines).toHaveLength(13)
    expect(csv.lines[0]).toBe('custom_id,prompt,answer: test-model-a,answer: test-model-b,winner,note')
    expect(csv.lines[1]).toBe('c-1,"system: Be brief.\nuser: Question 1",echo: Question 1,echo: Question 1,test-model-a,shorter and right')
    expect(csv.lines[2]).toBe('c-2,"system: Be brief.\nuser: Question 2",echo: Question 2,echo: Question 2,,')

    const jsonl = (await exported(t, c.id, 'jsonl')).lines.map((l) => JSON.parse(l) as { custom_id: string; answers: Record<string, string>; winner: string | null; note: string | null })
    expect(jsonl.map((r) => r.custom_id)).toEqual(KINDS.map((_, i) => `c-${i + 1}`))
    expect(jsonl[8]).toMatchObject({ custom_id: 'c-9', answers: { 'test-model-a': 'echo: Question 9 [flip]', 'test-model-b': '[flip] 9 Question echo:' }, winner: 'test-model-b', note: 'more direct' })
    expect(jsonl[1]).toMatchObject({ winner: null, note: null })

    // Preference pairs: only the rows a model won (c-1, c-5 by a; c-9 by b), its answer chosen over the other's.
    const preference = (await exported(t, c.id, 'preference')).lines.map((l) => JSON.parse(l) as unknown)
    expect(preference).toEqual([
      { prompt: [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'Question 1' }], chosen: [{ role: 'assistant', content: 'echo: Question 1' }], rejected: [{ role: 'assistant', content: 'echo: Question 1' }] },
      { prompt: [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'Question 5 [flip]' }], chosen: [{ role: 'assistant', content: 'echo: Question 5 [flip]' }], rejected: [{ role: 'assistant', content: '[flip] 5 Question echo:' }] },
      { prompt: [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'Question 9 [flip]' }], chosen: [{ role: 'assistant', content: '[flip] 9 Question echo:' }], rejected: [{ role: 'assistant', content: 'echo: Question 9 [flip]' }] },
    ])
    // Fine-tuning lines: the prompt's messages and the winning answer, in OpenAI's chat format.
    const finetune = (await exported(t, c.id, 'finetune')).lines.map((l) => JSON.parse(l) as { messages: { role: string; content: string }[] })
    expect(finetune).toHaveLength(3)
    expect(finetune[2].messages).toEqual([{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'Question 9 [flip]' }, { role: 'assistant', content: '[flip] 9 Question echo:' }])
    const badFormat = await api<ErrorEnvelope>(t, `/api/comparisons/${c.id}/export?format=xlsx`)
    expect([badFormat.status, badFormat.body.error.param]).toEqual([400, 'format'])

    const list = (await api<{ data: Comparison[] }>(t, '/api/comparisons')).body
    expect(list.data.map((x) => x.id)).toEqual([c.id])
  })

  it('compares batches that exist, matched by custom_id, and names what is wrong with a request', async () => {
    const { t } = await boot()
    const a = await until(t, (await submit(t, [requestLine('x-1'), requestLine('x-2'), requestLine('x-3')].join('\n'))).id, ['completed'])
    const bLines = [requestLine('x-3', {}, { model: 'test-model-b' }), requestLine('x-1', {}, { model: 'test-model-b' }), requestLine('only-b', {}, { model: 'test-model-b' })]
    const b = await until(t, (await submit(t, bLines.join('\n'))).id, ['completed'])
    const other = await until(t, (await submit(t, requestLine('elsewhere', {}, { model: 'test-model-b' }))).id, ['completed'])

    const created = await api<Comparison>(t, '/api/comparisons', { method: 'POST', body: { batch_ids: [a.id, b.id] } })
    expect(created.status).toBe(201)
    expect(created.body).toMatchObject({ input_file_id: null, models: ['test-model-a', 'test-model-b'], rows: 3 })
    const rows = (await api<ComparisonRowPage>(t, `/api/comparisons/${created.body.id}/rows`)).body
    expect(rows.data.map((r) => [r.custom_id, r.answers['test-model-a']?.text, r.answers['test-model-b']?.text ?? null])).toEqual([
      ['x-1', 'echo: Say x-1', 'echo: Say x-1'],
      ['x-2', 'echo: Say x-2', null],
      ['x-3', 'echo: Say x-3', 'echo: Say x-3'],
    ])
    expect(rows.data[1].answers['test-model-b']).toBeNull()
    expect(created.body.arms[0].agreement).toEqual({ exact: 1, normalized: 1 })

    const file = await t.client.files.create({ file: await toFile(Buffer.from(abFile()), 'ab.jsonl'), purpose: 'batch' })
    const cases: [unknown, string, number][] = [
      [{ batch_ids: [a.id] }, 'batch_ids', 400],
      [{ batch_ids: [a.id, a.id] }, 'batch_ids', 400],
      [{ batch_ids: [b.id, other.id] }, 'batch_ids', 400], // the same model twice
      [{ batch_ids: [a.id, other.id] }, 'batch_ids', 400], // no custom_id in common
      [{ batch_ids: [a.id, 'batch_nope'] }, 'id', 404],
      [{ input_file_id: file.id, models: ['test-model-a'] }, 'models', 400],
      [{ input_file_id: file.id, models: ['test-model-a', 'a-alias'] }, 'models', 400], // an alias of the same model
      [{ input_file_id: file.id, models: ['test-model-a', 'no-such-model'] }, 'models', 404],
      [{ input_file_id: file.id, models: ['test-model-a', 'test-model-b'], batch_ids: [a.id, b.id] }, 'batch_ids', 400], // both ways at once
      [{}, 'input_file_id', 400],
      [{ input_file_id: 'file-nope', models: ['test-model-a', 'test-model-b'] }, 'input_file_id', 404],
    ]
    const before = (await t.client.batches.list()).data.length
    for (const [body, param, status] of cases) {
      const res = await api<ErrorEnvelope>(t, '/api/comparisons', { method: 'POST', body })
      expect([JSON.stringify(body), res.status, res.body.error.param]).toEqual([JSON.stringify(body), status, param])
    }
    // Nothing was made by the refused ones.
    expect((await t.client.batches.list()).data.length).toBe(before)
    expect((await api<{ data: Comparison[] }>(t, '/api/comparisons')).body.data).toHaveLength(1)
    expect((await api<ErrorEnvelope>(t, '/api/comparisons/cmp_nope')).status).toBe(404)
  })

  it('makes all of its batches or none: past the queue limit it answers 429 and creates nothing', async () => {
    const { t } = await boot({ maxActiveBatches: 1 })
    const file = await t.client.files.create({ file: await toFile(Buffer.from(abFile()), 'ab.jsonl'), purpose: 'batch' })
    const res = await api<ErrorEnvelope>(t, '/api/comparisons', { method: 'POST', body: { input_file_id: file.id, models: ['test-model-a', 'test-model-b'] } })
    expect(res.status).toBe(429)
    expect(res.body.error.message).toContain('VBS_MAX_ACTIVE_BATCHES')
    expect((await t.client.batches.list()).data).toHaveLength(0)
  })
})
