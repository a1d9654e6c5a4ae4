import { afterEach, describe, expect, it } from 'vitest'
import { jsonl, type TestService } from '../helpers/service'
import { eventually, fakeServices, processGroup } from '../helpers/fake-engine'
import { submitBatch } from '../helpers/batches'
import { CHAOS_LONG, chaosSeed, expectEveryAnswerOnceAndOwn, spreadThresholds } from './chaos-helpers'

const N = CHAOS_LONG ? 20_000 : 3_000
const KILLS = CHAOS_LONG ? 6 : 2
/** Requests in flight and the fake's time per request: at most W * 1000 / LATENCY_MS a second, so the job outlasts the kills. */
const W = 16
const LATENCY_MS = 60
/**
 * Each kill costs the requests it cuts off one attempt (a retried request waits for the restarted engine), and a
 * request may be cut off by every kill (retries queue behind the rest of the chunk): the default 3 attempts
 * carry a request through 2 kills; the long run with more kills gives each request one attempt more than kills.
 */
const MAX_ATTEMPTS = Math.max(3, KILLS + 1)

const { seed, random } = chaosSeed()
const services = fakeServices()
afterEach(services.cleanup)

interface EngineStatusBody {
  state: string
  pid: number | null
  restarts: number
  lastError: string | null
}

async function engineStatus(t: TestService): Promise<EngineStatusBody> {
  return (await (await t.api('/api/engine')).json()) as EngineStatusBody
}

describe('chaos: the engine killed with SIGKILL (its whole process group) during a job', () => {
  it(
    `${N} requests, the fake vLLM killed ${KILLS} times at different points: restarted each time, every custom_id once with its own answer (seed ${seed}; replay with CHAOS_SEED=${seed})`,
    async () => {
      const { t, fake } = await services.boot(
        { FAKE_VLLM_LOAD_MS: '300', FAKE_VLLM_LATENCY_MS: String(LATENCY_MS) },
        {
          batchConcurrency: W,
          maxAttempts: MAX_ATTEMPTS,
          // Every kill is a crash the supervisor restarts: the limit must not be what this test runs into.
          engineRestartLimit: KILLS + 2,
          engineRestartWindowMs: 10 * 60_000,
          engineRestartBackoffMs: 200,
          engineHealthPollMs: 100,
        },
      )
      const thresholds = spreadThresholds(random, KILLS, Math.floor(N * 0.1), Math.floor(N * 0.85))
      const kills: { atCompleted: number; completed: number; pid: number }[] = []
      const context = (): string => `seed ${seed}; thresholds ${JSON.stringify(thresholds)}; kills so far: ${JSON.stringify(kills)}`
      const db = t.service.store.db
      const count = (sql: string): number => (db.prepare(sql).get() as { n: number }).n

      const batch = await submitBatch(t, jsonl(N, 'e'))
      for (const atCompleted of thresholds) {
        const engine = await eventually(
          async () => {
            const s = await engineStatus(t)
            if (s.state !== 'ready' || s.pid === null || kills.some((k) => k.pid === s.pid)) return null
            const b = await t.client.batches.retrieve(batch.id)
            return (b.request_counts?.completed ?? 0) >= atCompleted ? s : null
          },
          `a ready engine and ${atCompleted} completed requests (${context()})`,
          180_000,
        )
        const pid = engine.pid!
        // The API server and its EngineCore at once, as the OOM killer or a driver fault would.
        process.kill(-pid, 'SIGKILL')
        kills.push({ atCompleted, completed: count("SELECT COUNT(*) AS n FROM requests WHERE state != 'pending'"), pid })
        expect(kills.at(-1)!.completed, context()).toBeLessThan(N)
        const back = await eventually(
          async () => {
            const s = await engineStatus(t)
            return s.state === 'ready' && s.pid !== null && s.pid !== pid ? s : null
          },
          `the engine to be restarted after kill ${kills.length} (${context()})`,
          60_000,
        )
        expect(processGroup(pid), context()).toEqual([])
        expect(back.restarts, context()).toBe(kills.length)
      }

      const done = await eventually(
        async () => {
          const b = await t.client.batches.retrieve(batch.id)
          return b.status === 'completed' || b.status === 'failed' ? b : null
        },
        `the job to end (${context()})`,
        CHAOS_LONG ? 600_000 : 120_000,
      )
      console.log(`seed ${seed}: engine killed with ${kills.map((k) => `${k.completed} committed (>= ${k.atCompleted})`).join(', ')}`)
      expect(done.status, context()).toBe('completed')
      expect(done.request_counts, context()).toEqual({ total: N, completed: N, failed: 0 })
      expect(done.error_file_id ?? null, context()).toBeNull()
      const text = await (await t.client.files.content(done.output_file_id!)).text()
      expectEveryAnswerOnceAndOwn(text, N, 'e', context())

      // The kills came at different points and really cut requests off: those were sent again and still succeeded.
      expect(new Set(kills.map((k) => k.completed)).size, context()).toBe(KILLS)
      expect(count('SELECT COUNT(*) AS n FROM requests WHERE attempts >= 2'), context()).toBeGreaterThan(0)
      // One engine per kill plus the first, each gone but the last, which serves and is healthy.
      const launches = fake.launches()
      expect(launches, context()).toHaveLength(KILLS + 1)
      for (const l of launches.slice(0, -1)) expect(processGroup(l.pid), context()).toEqual([])
      const health = (await (await t.api('/health')).json()) as { status: string; problems: string[]; engine: { state: string; error: string | null } }
      expect(health, context()).toMatchObject({ status: 'ok', problems: [], engine: { state: 'ready', error: null } })
      const engine = await engineStatus(t)
      expect(engine.pid, context()).toBe(launches.at(-1)!.pid)
    },
    CHAOS_LONG ? 1_200_000 : 180_000,
  )
})
