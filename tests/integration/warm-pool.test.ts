// The warm pool (issue 12): models marked `sleep: true` are put to sleep on a switch instead of being stopped,
// and woken when switched back to. The production service and supervisor run the fake vLLM as real child
// processes; everything waits on the service's answers, the engine status or the fake's logs.
import fs from 'node:fs'
import net from 'node:net'
import path from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import type OpenAI from 'openai'
import { requestLine, tempDir, type TestService } from '../helpers/service'
import { batchReaches, submitBatch } from '../helpers/batches'
import { alive, eventually, fakeServices, processGroup } from '../helpers/fake-engine'
import type { EngineView } from '../../main/contract/engine'
import type { JobPage } from '../../main/contract/jobs'
import { freePort } from '../../main/engine/supervisor'

const services = fakeServices()
afterEach(services.cleanup)

/** Three vLLM models of 4 GiB that may sleep, and one that may not. */
function sleepyModels(dir: string): string {
  const file = path.join(dir, 'sleepy-models.yaml')
  const model = (id: string, sleep: boolean): string => `  - id: ${id}\n    model: test-org/${id}\n    vram_gb: 4\n${sleep ? '    sleep: true\n' : ''}`
  fs.writeFileSync(file, `default: sleepy-a\nmodels:\n${model('sleepy-a', true)}${model('sleepy-b', true)}${model('sleepy-c', true)}${model('plain-d', false)}`)
  return file
}

async function boot(knobs: Record<string, string>, warmPoolGb: number): Promise<{ t: TestService; fake: ReturnType<typeof fakeLogs> }> {
  const dataDir = tempDir()
  const { t, fake } = await services.boot(knobs, { modelsPath: sleepyModels(dataDir), warmPoolGb }, dataDir)
  return { t, fake: fakeLogs(fake) }
}

function fakeLogs(fake: Awaited<ReturnType<typeof services.boot>>['fake']) {
  return {
    ...fake,
    /** The sleep-mode calls the fake answered, in order ("/sleep", "/wake_up"). */
    sleepCalls: (): string[] => fake.requests().filter((r) => r.path === '/sleep' || r.path === '/wake_up').map((r) => r.path),
  }
}

const portOf = (argv: string[]): string => argv[argv.indexOf('--port') + 1]

/** A port P such that P and P + 1 are both free on loopback now. */
async function consecutiveFreePorts(): Promise<number> {
  for (let i = 0; i < 50; i++) {
    const p = await freePort()
    if (p < 65535 && (await canListen(p + 1))) return p
  }
  throw new Error('no two consecutive free ports found')
}

function canListen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer()
    server.once('error', () => resolve(false))
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)))
  })
}

async function engine(t: TestService): Promise<EngineView> {
  return (await (await t.api('/api/engine')).json()) as EngineView
}

const chat = async (t: TestService, model: string, text: string): Promise<string | null> =>
  ((await t.client.chat.completions.create({ model, messages: [{ role: 'user', content: text }] })) as OpenAI.Chat.Completions.ChatCompletion).choices[0].message.content

/** Sends one request to `model` and returns how long it took (the switch, when the model was not serving). */
async function timed(t: TestService, model: string): Promise<number> {
  const started = performance.now()
  expect(await chat(t, model, `to ${model}`)).toBe(`echo: to ${model}`)
  return performance.now() - started
}

const poolOf = (v: EngineView): Record<string, string> => Object.fromEntries(v.pool.map((w) => [w.model, w.state]))

describe('warm pool with the fake vLLM', () => {
  it('switches A to B to A: A sleeps, and the return to A wakes the same process in a fraction of a load', async () => {
    const loadMs = 5000
    const { t, fake } = await boot({ FAKE_VLLM_LOAD_MS: String(loadMs) }, 64)
    const coldA = await timed(t, 'sleepy-a')
    const pidA = (await engine(t)).pid!
    const coldB = await timed(t, 'sleepy-b')
    const whileB = await engine(t)
    expect(whileB).toMatchObject({ state: 'ready', model: 'sleepy-b' })
    expect(poolOf(whileB)).toEqual({ 'sleepy-a': 'sleeping', 'sleepy-b': 'ready' })
    expect(whileB.pool.find((w) => w.model === 'sleepy-a')).toMatchObject({ pid: pidA, ramGb: 4 })
    expect(alive(pidA)).toBe(true)
    // Two engines at once: two ports.
    expect(new Set(fake.launches().map((l) => portOf(l.argv))).size).toBe(2)

    const back = await timed(t, 'sleepy-a')
    const after = await engine(t)
    expect(after).toMatchObject({ state: 'ready', model: 'sleepy-a', pid: pidA })
    expect(poolOf(after)).toEqual({ 'sleepy-a': 'ready', 'sleepy-b': 'sleeping' })
    // No new process for A: two launches in all, each with sleep mode on; the fake saw A sleep and wake.
    const launches = fake.launches()
    expect(launches.map((l) => l.served[0])).toEqual(['sleepy-a', 'sleepy-b'])
    for (const l of launches) expect(l.argv).toContain('--enable-sleep-mode')
    expect(fake.sleepCalls()).toEqual(['/sleep', '/sleep', '/wake_up'])
    expect(after.logTail.join('\n')).toMatch(/It took [\d.]+ seconds to wake up/)
    // Cold starts take the load time at least; the way back is a small fraction of it.
    expect(coldA).toBeGreaterThanOrEqual(loadMs)
    expect(coldB).toBeGreaterThanOrEqual(loadMs)
    expect(back).toBeLessThan(loadMs / 2)
    expect(t.service.engine.warmModels().sort()).toEqual(['sleepy-a', 'sleepy-b'])
  })

  it('keeps the pool within VBS_WARM_POOL_GB: the least recently used sleeper is stopped for real', async () => {
    // Room for one 4 GiB model asleep.
    const { t, fake } = await boot({}, 5)
    await timed(t, 'sleepy-a')
    const pidA = (await engine(t)).pid!
    await timed(t, 'sleepy-b')
    const pidB = (await engine(t)).pid!
    expect(poolOf(await engine(t))).toEqual({ 'sleepy-a': 'sleeping', 'sleepy-b': 'ready' })
    await timed(t, 'sleepy-c')
    // B went to sleep; A, the oldest, was stopped to make room.
    const v = await engine(t)
    expect(poolOf(v)).toEqual({ 'sleepy-b': 'sleeping', 'sleepy-c': 'ready' })
    expect(processGroup(pidA)).toEqual([])
    expect(alive(pidB)).toBe(true)
    // A model without `sleep: true` is stopped on a switch, as before.
    await timed(t, 'plain-d')
    const pidD = (await engine(t)).pid!
    expect(poolOf(await engine(t))).toEqual({ 'sleepy-c': 'sleeping', 'plain-d': 'ready' })
    expect(processGroup(pidB)).toEqual([])
    await timed(t, 'sleepy-a')
    expect(processGroup(pidD)).toEqual([])
    // A came back by a fresh start (its process was gone); C still sleeps.
    expect(fake.launches().map((l) => l.served[0])).toEqual(['sleepy-a', 'sleepy-b', 'sleepy-c', 'plain-d', 'sleepy-a'])
    expect(poolOf(await engine(t))).toEqual({ 'sleepy-c': 'sleeping', 'sleepy-a': 'ready' })
    // With no budget, nothing sleeps: a switch stops the model.
    const none = await boot({}, 0)
    await timed(none.t, 'sleepy-a')
    const first = (await engine(none.t)).pid!
    await timed(none.t, 'sleepy-b')
    expect(processGroup(first)).toEqual([])
    expect(poolOf(await engine(none.t))).toEqual({ 'sleepy-b': 'ready' })
  })

  it('drops a sleeping engine that is killed; the service keeps serving and the next switch to it starts afresh', async () => {
    const { t, fake } = await boot({}, 64)
    await timed(t, 'sleepy-a')
    const pidA = (await engine(t)).pid!
    await timed(t, 'sleepy-b')
    expect(poolOf(await engine(t))).toEqual({ 'sleepy-a': 'sleeping', 'sleepy-b': 'ready' })
    process.kill(-pidA, 'SIGKILL')
    const dropped = await eventually(async () => {
      const v = await engine(t)
      return v.pool.some((w) => w.model === 'sleepy-a') ? null : v
    }, 'the killed engine to leave the pool')
    expect(dropped).toMatchObject({ state: 'ready', model: 'sleepy-b', lastError: null })
    expect(processGroup(pidA)).toEqual([])
    // A's pidfile went with it; B's (the second slot) stays.
    expect(fs.existsSync(path.join(t.dataDir, 'engine.pid'))).toBe(false)
    expect(fs.existsSync(path.join(t.dataDir, 'engine-1.pid'))).toBe(true)
    expect(await chat(t, 'sleepy-b', 'still here')).toBe('echo: still here')
    expect(await chat(t, 'sleepy-a', 'again')).toBe('echo: again')
    expect(fake.launches().map((l) => l.served[0])).toEqual(['sleepy-a', 'sleepy-b', 'sleepy-a'])
    const v = await engine(t)
    expect(v).toMatchObject({ state: 'ready', model: 'sleepy-a' })
    expect(v.pid).not.toBe(pidA)
    expect(poolOf(v)).toEqual({ 'sleepy-a': 'ready', 'sleepy-b': 'sleeping' })
  })

  it('with VBS_ENGINE_PORT fixed, the engine asleep keeps its port and the next one takes the port after it', async () => {
    const port = await consecutiveFreePorts()
    const dataDir = tempDir()
    const { t, fake } = await services.boot({}, { modelsPath: sleepyModels(dataDir), warmPoolGb: 64, enginePort: port }, dataDir)
    await timed(t, 'sleepy-a')
    await timed(t, 'sleepy-b')
    expect((await engine(t)).pool.map((w) => [w.model, w.port])).toEqual([
      ['sleepy-b', port + 1],
      ['sleepy-a', port],
    ])
    expect(await chat(t, 'sleepy-a', 'back')).toBe('echo: back')
    expect((await engine(t)).port).toBe(port)
    expect(fake.launches().map((l) => portOf(l.argv))).toEqual([String(port), String(port + 1)])
  })

  it('an explicit stop ends the sleeping engines too; events carry the pool as it changes', async () => {
    const { t } = await boot({}, 64)
    const seen: string[] = []
    t.service.events.on('engine.state', ({ status }) => seen.push(status.pool.map((w) => `${w.model}:${w.state}`).join(',')))
    await timed(t, 'sleepy-a')
    await timed(t, 'sleepy-b')
    expect(seen).toContain('sleepy-b:ready,sleepy-a:sleeping')
    const pids = (await engine(t)).pool.map((w) => w.pid!)
    expect(pids).toHaveLength(2)
    const stopped = await t.api('/api/engine/stop', { method: 'POST', body: '{}', headers: { 'content-type': 'application/json' } })
    expect(stopped.status).toBe(200)
    for (const pid of pids) expect(processGroup(pid)).toEqual([])
    expect(await engine(t)).toMatchObject({ state: 'stopped', pool: [] })
    expect(fs.readdirSync(t.dataDir).filter((f) => f.endsWith('.pid'))).toEqual([])
  })

  it('runs a batch for a sleeping model to completion across the switch, by waking it', async () => {
    const { t, fake } = await boot({ FAKE_VLLM_LATENCY_MS: '20' }, 64)
    await timed(t, 'sleepy-a')
    const pidA = (await engine(t)).pid!
    await timed(t, 'sleepy-b')
    const lines = Array.from({ length: 30 }, (_, i) => requestLine(`r-${i}`, {}, { model: 'sleepy-a' })).join('\n')
    const batch = await submitBatch(t, `${lines}\n`)
    // Meanwhile an interactive request for B is served (or told the GPU is busy with the batch), never lost.
    const interactive = await chat(t, 'sleepy-b', 'meanwhile').catch((err: { status?: number }) => err.status)
    expect(['echo: meanwhile', 503]).toContain(interactive)
    const done = await batchReaches(t, batch.id, ['completed', 'failed', 'expired', 'cancelled'])
    expect(done.status).toBe('completed')
    expect(done.request_counts).toMatchObject({ total: 30, completed: 30, failed: 0 })
    const output = await (await t.client.files.content(done.output_file_id!)).text()
    expect(output.trim().split('\n')).toHaveLength(30)
    const v = await engine(t)
    expect(v).toMatchObject({ model: 'sleepy-a', pid: pidA })
    expect(fake.launches()).toHaveLength(2)
    expect(fake.sleepCalls()).toContain('/wake_up')
  })

  it('runs the job of a model asleep in the pool before an older job that needs a load', async () => {
    const { t, fake } = await boot({ FAKE_VLLM_LATENCY_MS: '5' }, 64)
    await timed(t, 'sleepy-a')
    await timed(t, 'sleepy-b') // A now sleeps, B serves
    expect(t.service.engine.warmModels().sort()).toEqual(['sleepy-a', 'sleepy-b'])
    expect((await t.api('/api/batches/pause', { method: 'POST' })).status).toBe(200)
    const lines = (model: string, prefix: string): string => `${Array.from({ length: 5 }, (_, i) => requestLine(`${prefix}-${i}`, {}, { model })).join('\n')}\n`
    const cold = await submitBatch(t, lines('sleepy-c', 'c'))
    const asleep = await submitBatch(t, lines('sleepy-a', 'a'))
    await batchReaches(t, cold.id, ['in_progress'])
    await batchReaches(t, asleep.id, ['in_progress'])
    const queued = (await (await t.api('/api/batches')).json()) as JobPage
    expect(queued.data.find((j) => j.id === asleep.id)!.queue).toMatchObject({ position: 1, reason: 'warm' })
    expect(queued.data.find((j) => j.id === asleep.id)!.queue!.detail).toContain('asleep in the warm pool')
    expect(queued.data.find((j) => j.id === cold.id)!.queue).toMatchObject({ position: 2 })

    expect((await t.api('/api/batches/resume', { method: 'POST' })).status).toBe(200)
    for (const b of [asleep, cold]) expect((await batchReaches(t, b.id, ['completed', 'failed', 'expired', 'cancelled'])).status).toBe('completed')
    const started = (id: string): number => t.service.store.batches.get(id)!.first_started_at!
    expect(started(asleep.id)).toBeLessThan(started(cold.id))
    // A was woken (B put to sleep, no new process for A), then C loaded (A asleep again): three launches in all.
    expect(fake.launches().map((l) => l.served[0])).toEqual(['sleepy-a', 'sleepy-b', 'sleepy-c'])
    expect(fake.sleepCalls()).toEqual(['/sleep', '/sleep', '/wake_up', '/sleep'])
  })
})
