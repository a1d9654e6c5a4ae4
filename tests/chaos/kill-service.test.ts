import fs from 'node:fs'
import path from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import OpenAI, { toFile } from 'openai'
import { jsonl, tempDir } from '../helpers/service'
import { readKey, spawnServe, type ChildService } from '../helpers/child-service'
import { eventually, fakeEngineEnv, processGroup, serveEnvWithFake, type FakeEngineEnv } from '../helpers/fake-engine'
import { openStore } from '../../main/store'
import { CHAOS_LONG, chaosSeed, expectEveryAnswerOnceAndOwn, killFakeEngines, spreadThresholds } from './chaos-helpers'

const N = CHAOS_LONG ? 20_000 : 3_000
const KILLS = CHAOS_LONG ? 20 : 8
/** Requests in flight (VBS_BATCH_CONCURRENCY) and the fake's time per request: at most W * 1000 / LATENCY_MS a second, so the job outlasts the kills. */
const W = 16
const LATENCY_MS = 80
const COMMIT_ROWS = 200
/** A kill "after start" comes this long at most after the service printed that it serves. */
const MAX_START_DELAY_MS = 2000

const { seed, random } = chaosSeed()

type Moment = { kind: 'progress'; atCompleted: number } | { kind: 'after-start'; delayMs: number }

/** Where the kills land: mostly once the job passed a random point, some at a random moment right after a restart. */
function plan(): Moment[] {
  // The last kill is always a progress one: the job must still run at every kill, and it ends sooner after the last one.
  const kinds = Array.from({ length: KILLS }, (_, i) => (i < KILLS - 1 && random() < 0.25 ? 'after-start' : 'progress'))
  const thresholds = spreadThresholds(random, kinds.filter((k) => k === 'progress').length, Math.floor(N * 0.03), Math.floor(N * 0.9))
  return kinds.map((kind) => (kind === 'progress' ? { kind, atCompleted: thresholds.shift()! } : { kind, delayMs: Math.floor(random() * MAX_START_DELAY_MS) }))
}

const fakes: FakeEngineEnv[] = []
const services: ChildService[] = []
afterEach(async () => {
  for (const s of services.splice(0)) {
    if (s.child.exitCode === null && s.child.signalCode === null) s.child.kill('SIGKILL')
    await s.exited
  }
  // The engines the killed services left running (each restart ends its predecessor's, but not after the last kill of a failed run).
  killFakeEngines(fakes.splice(0))
})

describe('chaos: the service killed with SIGKILL again and again during one job', () => {
  it(
    `${N} requests, ${KILLS} kill -9 at random moments, restarts on the same data dir: every custom_id once with its own answer (seed ${seed}; replay with CHAOS_SEED=${seed})`,
    async () => {
      const moments = plan()
      const fake = fakeEngineEnv({ FAKE_VLLM_LOAD_MS: '200', FAKE_VLLM_LATENCY_MS: String(LATENCY_MS) })
      fakes.push(fake)
      const dataDir = tempDir('vbs-chaos-kill-')
      const env = serveEnvWithFake(fake, dataDir, { VBS_BATCH_CONCURRENCY: String(W), VBS_COMMIT_ROWS: String(COMMIT_ROWS), VBS_LOG_LEVEL: 'warn' })
      const kills: { moment: Moment; committed: number; status: string }[] = []
      const context = (): string => `seed ${seed}; kills so far: ${JSON.stringify(kills)}`
      /** What a person would look at when the job stalls: the service's own output and the engine's log. */
      const diagnosis = (): string => {
        const tail = (text: string, lines: number): string => text.split('\n').slice(-lines).join('\n')
        const logTail = (name: string): string => {
          const file = path.join(dataDir, 'logs', name)
          return fs.existsSync(file) ? tail(fs.readFileSync(file, 'utf8'), 30) : '(none)'
        }
        return [
          `service output (last lines):\n${tail(svc.output(), 30)}`,
          `service.log (last lines):\n${logTail('service.log')}`,
          `engine.log (last lines):\n${logTail('engine.log')}`,
          `engine launches: ${JSON.stringify(fake.launches().map((l) => ({ pid: l.pid, alive: processGroup(l.pid) })))}`,
        ].join('\n')
      }
      const orExplain = async <T>(wait: Promise<T>): Promise<T> => {
        try {
          return await wait
        } catch (err) {
          throw new Error(`${(err as Error).message}\n${diagnosis()}`, { cause: err })
        }
      }

      const start = async (): Promise<{ svc: ChildService; client: OpenAI }> => {
        const svc = spawnServe(env)
        services.push(svc)
        const url = await svc.ready
        // A new port each time; the key is the one the first start wrote into the data dir.
        return { svc, client: new OpenAI({ apiKey: readKey(dataDir), baseURL: `${url}/v1`, maxRetries: 0, timeout: 60_000 }) }
      }

      let { svc, client } = await start()
      const file = await client.files.create({ file: await toFile(Buffer.from(jsonl(N, 'k')), 'k.jsonl'), purpose: 'batch' })
      const batch = await client.batches.create({ input_file_id: file.id, endpoint: '/v1/chat/completions', completion_window: '24h' })

      for (const moment of moments) {
        if (moment.kind === 'progress') {
          const c = client
          // Past its threshold and past what the last kill found committed: a restart that resumed beyond the next
          // threshold must still make progress of its own before it is killed again.
          const target = Math.max(moment.atCompleted, (kills.at(-1)?.committed ?? 0) + 1)
          await orExplain(
            eventually(
              async () => ((await c.batches.retrieve(batch.id)).request_counts?.completed ?? 0) >= target,
              `${target} completed requests (${context()})`,
              180_000,
            ),
          )
        } else {
          // The random moment itself (not a wait for anything): somewhere in the engine's start or the job's resumption.
          await new Promise((resolve) => setTimeout(resolve, moment.delayMs))
        }
        svc.child.kill('SIGKILL')
        await svc.exited
        const store = openStore(dataDir)
        try {
          const row = store.batches.get(batch.id)!
          const committed = (store.db.prepare("SELECT COUNT(*) AS n FROM requests WHERE state != 'pending'").get() as { n: number }).n
          kills.push({ moment, committed, status: row.status })
        } finally {
          store.close()
        }
        // Every kill hit a job that was still running (a kill right after the upload may find it still validating).
        expect(['validating', 'in_progress'], context()).toContain(kills.at(-1)!.status)
        expect(kills.at(-1)!.committed, context()).toBeLessThan(N)
        ;({ svc, client } = await start())
      }

      const done = await orExplain(
        eventually(
          async () => {
            const b = await client.batches.retrieve(batch.id)
            return b.status === 'completed' ? b : null
          },
          `the job to complete after the last restart (${context()})`,
          CHAOS_LONG ? 600_000 : 180_000,
        ),
      )
      expect(kills, context()).toHaveLength(KILLS)
      console.log(`seed ${seed}: killed with ${kills.map((k) => `${k.committed} committed (${k.moment.kind === 'progress' ? `>= ${k.moment.atCompleted}` : `${k.moment.delayMs} ms after start`})`).join(', ')}`)
      // The progress kills came at different points of the job, in order.
      const progress = kills.filter((k) => k.moment.kind === 'progress').map((k) => k.committed)
      expect(new Set(progress).size, context()).toBe(progress.length)
      expect(progress, context()).toEqual([...progress].sort((a, b) => a - b))

      expect(done.request_counts, context()).toEqual({ total: N, completed: N, failed: 0 })
      expect(done.error_file_id ?? null, context()).toBeNull()
      const text = await (await client.files.content(done.output_file_id!)).text()
      expectEveryAnswerOnceAndOwn(text, N, 'k', context())

      // Nothing committed was sent again: per kill at most the W in flight and one write batch not yet committed.
      const sent = await eventually(() => {
        const count = fake.requests().filter((r) => r.path === '/v1/chat/completions').length
        return count >= N ? count : null
      }, 'the engine log to hold every request')
      expect(sent - N, context()).toBeLessThanOrEqual(KILLS * (W + COMMIT_ROWS))

      // A stop after all that leaves no engine behind: every engine a killed service left was ended by its successor.
      svc.child.kill('SIGTERM')
      expect((await svc.exited).code, context()).toBe(0)
      const launches = fake.launches()
      expect(launches.length, context()).toBeGreaterThanOrEqual(2)
      expect(launches.length, context()).toBeLessThanOrEqual(KILLS + 1)
      for (const l of launches) expect(processGroup(l.pid), `${context()}; engine pid ${l.pid}`).toEqual([])
    },
    CHAOS_LONG ? 1_800_000 : 300_000,
  )
})
