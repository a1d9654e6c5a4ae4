import { afterEach, describe, expect, it } from 'vitest'
import OpenAI, { toFile } from 'openai'
import { jsonl, tempDir } from '../helpers/service'
import { readKey, spawnServe } from '../helpers/child-service'
import { eventually, fakeEngineEnv, processGroup, serveEnvWithFake, type FakeEngineEnv } from '../helpers/fake-engine'
import { openStore } from '../../main/store'

const fakes: FakeEngineEnv[] = []
afterEach(() => {
  for (const fake of fakes.splice(0)) for (const l of fake.launches()) for (const pid of processGroup(l.pid)) process.kill(pid, 'SIGKILL')
})

describe('durability', () => {
  it('kill -9 of the service at about half of a 20,000-request job: after a restart, exactly 20,000 unique correct results', async () => {
    const fake = fakeEngineEnv({ FAKE_VLLM_LOAD_MS: '100' })
    fakes.push(fake)
    const dataDir = tempDir()
    const W = 64
    const COMMIT_ROWS = 200
    const env = serveEnvWithFake(fake, dataDir, { VBS_BATCH_CONCURRENCY: String(W), VBS_COMMIT_ROWS: String(COMMIT_ROWS), VBS_LOG_LEVEL: 'warn' })
    const n = 20_000
    const first = spawnServe(env)
    const url = await first.ready
    const client = new OpenAI({ apiKey: readKey(dataDir), baseURL: `${url}/v1`, maxRetries: 0 })
    const file = await client.files.create({ file: await toFile(Buffer.from(jsonl(n, 'd')), 'd.jsonl'), purpose: 'batch' })
    const batch = await client.batches.create({ input_file_id: file.id, endpoint: '/v1/chat/completions', completion_window: '24h' })
    await eventually(async () => ((await client.batches.retrieve(batch.id)).request_counts?.completed ?? 0) >= n / 2, 'half of the job', 180_000)
    first.child.kill('SIGKILL')
    await first.exited
    const store = openStore(dataDir)
    const committed = (store.db.prepare("SELECT COUNT(*) AS n FROM requests WHERE state != 'pending'").get() as { n: number }).n
    store.close()
    expect(committed).toBeGreaterThanOrEqual(n / 2)
    expect(committed).toBeLessThan(n)
    // Every committed result was answered by the engine, which logs a request once its answer is out.
    await eventually(() => {
      const count = fake.requests().filter((r) => r.path === '/v1/chat/completions').length
      return count >= committed ? count : null
    }, 'the engine log to hold every committed request')

    const second = spawnServe(env)
    try {
      const url2 = await second.ready
      const client2 = new OpenAI({ apiKey: readKey(dataDir), baseURL: `${url2}/v1`, maxRetries: 0 })
      const done = await eventually(async () => {
        const b = await client2.batches.retrieve(batch.id)
        return b.status === 'completed' ? b : null
      }, 'the job to complete after the restart', 300_000)
      expect(done.request_counts).toEqual({ total: n, completed: n, failed: 0 })
      // The engine the dead service left running was ended before the new one started: never two at once.
      const launches = fake.launches()
      expect(launches).toHaveLength(2)
      expect(processGroup(launches[0].pid)).toEqual([])
      const text = await (await client2.files.content(done.output_file_id!)).text()
      const lines = text.split('\n').filter(Boolean).map((l) => JSON.parse(l) as { custom_id: string; response: { body: { choices: { message: { content: string } }[] } } })
      expect(lines).toHaveLength(n)
      expect(new Set(lines.map((l) => l.custom_id)).size).toBe(n)
      for (const l of lines) expect(l.response.body.choices[0].message.content).toBe(`echo: Say ${l.custom_id}`)
      // Nothing committed was sent again: at most the W in flight plus one write batch per crash.
      const sent = await eventually(() => {
        const count = fake.requests().filter((r) => r.path === '/v1/chat/completions').length
        return count >= n ? count : null
      }, 'the engine log to hold every request')
      expect(sent - n).toBeLessThanOrEqual(W + COMMIT_ROWS)
    } finally {
      second.child.kill('SIGTERM')
      await second.exited
    }
  })
})
