// The batch helper (lib/batch.ts): submit, wait and download in one call with the official SDK (v7 and v4) as
// its client, against the real service and the fake vLLM; and the built module (out/lib/batch.js) as users load it.
import { createRequire } from 'node:module'
import path from 'node:path'
import { afterEach, beforeAll, describe, expect, it } from 'vitest'
import { Batch, BatchFailedError, type BatchInfo } from '../../lib/batch'
import { fakeServices } from '../helpers/fake-engine'
import { ROOT } from '../helpers/service'
import { buildCli } from '../helpers/vbs'

const services = fakeServices({ retryBaseMs: 50 })
afterEach(services.cleanup)
beforeAll(buildCli)

interface Chat {
  choices: { message: { content: string } }[]
}

describe('Batch: submit, wait, download', () => {
  it('returns every answer matched to its request, in the order added, with progress along the way (SDK v7 and v4)', async () => {
    const { t } = await services.boot({ FAKE_VLLM_LATENCY_MS: '20' }, { chunkSize: 10 })
    for (const client of [t.client, t.clientV4]) {
      const batch = new Batch<{ model: string; messages: { role: string; content: string }[] }, Chat>(client, { pollIntervalMs: 100, metadata: { from: 'helper' } })
      const n = 25
      // Added in an order the engine's answers will not keep; the results come back in it anyway.
      for (let i = n; i >= 1; i--) batch.add({ model: 'test-model-a', messages: [{ role: 'user', content: `question ${i}` }] }, `q-${i}`)
      const seen: BatchInfo[] = []
      const results = await batch.submitWaitDownload({ onProgress: (b) => seen.push(b) })
      expect(results).toHaveLength(n)
      results.forEach((r, k) => {
        expect(r.customId).toBe(`q-${n - k}`)
        expect(r.statusCode).toBe(200)
        expect(r.error).toBeNull()
        expect(r.response!.choices[0].message.content).toBe(`echo: ${r.input.messages[0].content}`)
      })
      expect(seen.at(-1)).toMatchObject({ status: 'completed', request_counts: { total: n, completed: n, failed: 0 } })
      const remote = await t.client.batches.retrieve(batch.id!)
      expect(remote.metadata).toEqual({ from: 'helper' })
    }
  })

  it('a request the engine refused comes back with its error; a refused file throws naming its lines', async () => {
    const { t } = await services.boot()
    const batch = new Batch(t.client, { pollIntervalMs: 100 })
    batch.add({ model: 'test-model-a', messages: [{ role: 'user', content: 'fine' }] }, 'good')
    batch.add({ model: 'test-model-a', messages: [] }, 'bad')
    const [good, bad] = await batch.submitWaitDownload()
    expect(good).toMatchObject({ customId: 'good', statusCode: 200, error: null })
    expect(bad).toMatchObject({ customId: 'bad', statusCode: 400, response: null })
    expect(bad.error!.message).toBeTruthy()

    const refused = new Batch(t.client, { pollIntervalMs: 100 })
    refused.add({ model: 'no-such-model', messages: [{ role: 'user', content: 'x' }] })
    const err = (await refused.submitWaitDownload().catch((e: unknown) => e)) as BatchFailedError
    expect(err).toBeInstanceOf(BatchFailedError)
    expect(err.message).toMatch(/^batch batch_\w+ failed: line 1: .*no-such-model/)
    expect(() => refused.add({ model: 'x' })).toThrow('submitted already')
    expect(() => new Batch(t.client).add({ model: 'm', stream: true })).toThrow('cannot stream')
  })

  it('stops waiting on a signal without cancelling; Batch.attach picks the batch up again', async () => {
    const { t } = await services.boot({ FAKE_VLLM_LATENCY_MS: '200' }, { batchConcurrency: 1 })
    const batch = new Batch(t.client, { pollIntervalMs: 50 })
    for (let i = 1; i <= 10; i++) batch.add({ model: 'test-model-a', messages: [{ role: 'user', content: `n${i}` }] }, `n${i}`)
    const stop = new AbortController()
    const err = (await batch.submitWaitDownload({ signal: stop.signal, onProgress: (b) => b.status === 'in_progress' && stop.abort() }).catch((e: unknown) => e)) as Error
    expect(err.message).toMatch(/stopped waiting for batch batch_\w+ \(in_progress\); it goes on/)
    const again = Batch.attach(t.client, batch.id!, { pollIntervalMs: 100 })
    for (let i = 1; i <= 10; i++) again.add({ model: 'test-model-a', messages: [{ role: 'user', content: `n${i}` }] }, `n${i}`)
    const results = await again.submitWaitDownload()
    expect(results.map((r) => r.statusCode)).toEqual(Array(10).fill(200))
  })

  it('the built module (out/lib/batch.js, with its .d.ts) runs the same', async () => {
    const { t } = await services.boot()
    const built = createRequire(__filename)(path.join(ROOT, 'out', 'lib', 'batch.js')) as typeof import('../../lib/batch')
    const batch = new built.Batch(t.clientV4, { pollIntervalMs: 100 })
    batch.add({ model: 'model-b', messages: [{ role: 'user', content: 'built' }] })
    const [r] = await batch.submitWaitDownload()
    expect((r.response as unknown as Chat).choices[0].message.content).toBe('echo: built')
  })
})
