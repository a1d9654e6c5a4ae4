import fs from 'node:fs'
import path from 'node:path'
import pino from 'pino'
import { afterEach, describe, expect, it } from 'vitest'
import { GpuTelemetry, type GpuInfo, type GpuSample, type GpuStatus, type GpuTelemetryOptions } from '../../main/gpu/telemetry'
import { alive, childrenOf, eventually, fakeEngineEnv } from '../helpers/fake-engine'
import { tempDir } from '../helpers/service'

interface Harness {
  telemetry: GpuTelemetry
  samples: GpuSample[]
  infos: GpuInfo[]
  statuses: GpuStatus[]
  logs: string[]
  pids: Set<number>
}

const harnesses: Harness[] = []

afterEach(async () => {
  for (const h of harnesses.splice(0)) {
    await h.telemetry.stop()
    // Belt and braces: no sampler a test started may outlive it.
    for (const pid of h.pids) if (alive(pid)) process.kill(pid, 'SIGKILL')
  }
})

function harness(options: Partial<GpuTelemetryOptions> & { env: NodeJS.ProcessEnv }): Harness {
  const logs: string[] = []
  const h: Harness = { samples: [], infos: [], statuses: [], logs, pids: new Set(), telemetry: undefined as unknown as GpuTelemetry }
  h.telemetry = new GpuTelemetry({
    pollMs: 100,
    log: pino({ level: 'debug' }, { write: (line: string) => void logs.push(line) }),
    ...options,
    onSample: (s) => {
      h.samples.push(s)
      const pid = h.telemetry.pid
      if (pid !== null) h.pids.add(pid)
    },
    onInfo: (info) => h.infos.push(info),
    onStatus: (status) => h.statuses.push(status),
  })
  harnesses.push(h)
  return h
}

const nvidiaSmiChildren = (): number[] =>
  childrenOf(process.pid).filter((pid) => {
    try {
      return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('nvidia-smi')
    } catch {
      return false
    }
  })

describe('GPU telemetry with the fake nvidia-smi', () => {
  it('samples the fake GPU, follows its temperature, and keeps a bounded, ordered history', async () => {
    const fake = fakeEngineEnv()
    fake.setGpu({ temperature_c: 52, utilization_pct: 7, power_w: 120.5, fan_pct: 41 })
    // 1 s of history at 100 ms: at most 10 samples by time, 19 slots in the ring.
    const h = harness({ env: fake.env, historyMs: 1000 })
    expect(h.telemetry.status()).toEqual({ available: false, reason: 'not started' })
    expect(h.telemetry.current()).toBeNull()
    await h.telemetry.start()

    const first = await eventually(() => h.telemetry.current(), 'the first sample', 30_000)
    expect(first).toMatchObject({
      temperatureC: 52,
      memoryUsedMiB: 600,
      memoryTotalMiB: 16376,
      utilizationPct: 7,
      powerW: 120.5,
      powerLimitW: 320,
      fanPct: 41,
    })
    expect(Math.abs(first.at - Date.now())).toBeLessThan(30_000)
    expect(h.telemetry.status()).toEqual({ available: true, reason: null })
    expect(h.telemetry.reading()).toMatchObject({ temperatureC: 52 })

    fake.setGpu({ temperature_c: 86 })
    await eventually(() => h.telemetry.current()?.temperatureC === 86, 'the new temperature in current()', 30_000)
    expect(h.samples.at(-1)?.temperatureC).toBe(86)

    // Well past the ring's capacity.
    await eventually(() => h.samples.length >= 40, '40 samples', 60_000)
    const history = h.telemetry.history()
    expect(history.length).toBeGreaterThan(0)
    expect(history.length).toBeLessThanOrEqual(19)
    const now = Date.now()
    for (const s of history) expect(s.at).toBeGreaterThanOrEqual(now - 1000 - 50)
    for (let i = 1; i < history.length; i++) expect(history[i].at).toBeGreaterThanOrEqual(history[i - 1].at)
    expect(history.at(-1)?.temperatureC).toBe(86)
    const since = history[Math.floor(history.length / 2)].at
    expect(h.telemetry.history(since).every((s) => s.at > since)).toBe(true)
    // One child, one line per sample: no nvidia-smi launched per poll.
    expect(h.pids.size).toBe(1)
  })

  it('restarts nvidia-smi when it is killed, and samples resume', async () => {
    const fake = fakeEngineEnv()
    const h = harness({ env: fake.env })
    await h.telemetry.start()
    await eventually(() => h.telemetry.status().available, 'sampling', 30_000)
    const pid = h.telemetry.pid!
    expect(nvidiaSmiChildren()).toEqual([pid])

    process.kill(pid, 'SIGKILL')
    const down = await eventually(() => h.statuses.find((s) => !s.available && s.reason?.includes('killed by SIGKILL')), 'the status to say so', 30_000)
    expect(down.reason).toBe('nvidia-smi exited (killed by SIGKILL); restarting in 1 s')
    expect(h.logs.some((l) => l.includes('killed by SIGKILL') && l.includes('"level":40'))).toBe(true)

    const before = h.samples.length
    await eventually(() => h.telemetry.status().available && h.samples.length > before + 3, 'samples from a new nvidia-smi', 30_000)
    expect(h.telemetry.pid).not.toBe(pid)
    expect(alive(pid)).toBe(false)
    expect(nvidiaSmiChildren()).toEqual([h.telemetry.pid])
  })

  it('says the driver cannot be reached ("fail": true), keeps checking, and recovers when the driver is back', async () => {
    const fake = fakeEngineEnv()
    fake.setGpu({ fail: true })
    const h = harness({ env: fake.env, noGpuRetryMs: 300 })
    await expect(h.telemetry.start()).resolves.toBeUndefined()
    const status = await eventually(() => (h.telemetry.status().reason?.includes('failed') ? h.telemetry.status() : null), 'the failure in the status', 30_000)
    expect(status.available).toBe(false)
    expect(status.reason).toBe(
      "nvidia-smi failed (exit code 9): NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver. " +
        'Make sure that the latest NVIDIA driver is installed and running.; checking again every 0.3 s',
    )
    expect(h.telemetry.current()).toBeNull()
    expect(h.telemetry.reading().temperatureC).toBeNull()
    // Without a driver, discovery still sees the card on the PCI bus, but no driver version.
    const noDriver = await eventually(() => h.infos[0], 'discovery', 30_000)
    expect(noDriver).toMatchObject({ name: 'AD103 [GeForce RTX 4080]', driverVersion: null })

    fake.setGpu({ fail: false })
    await eventually(() => h.telemetry.status().available, 'sampling once the driver is back', 30_000)
    expect(h.telemetry.current()?.temperatureC).toBe(45)
    // The card is looked at again now that its driver answers.
    const found = await eventually(() => h.infos.find((i) => i.driverVersion !== null), 'a second discovery', 30_000)
    expect(found).toMatchObject({ name: 'NVIDIA GeForce RTX 4080', driverVersion: '550.54.14' })
  })

  it('says there is no GPU when nvidia-smi is not on PATH, and everything else keeps working', async () => {
    const emptyBin = tempDir('vbs-no-gpu-')
    const h = harness({ env: { PATH: emptyBin, HOME: process.env.HOME ?? '' } })
    await expect(h.telemetry.start()).resolves.toBeUndefined()
    await eventually(() => !h.telemetry.status().reason?.startsWith('waiting'), 'the spawn to fail', 30_000)
    expect(h.telemetry.status()).toEqual({
      available: false,
      reason: 'no NVIDIA GPU found: nvidia-smi is not installed (not found on PATH); checking again every 60 s',
    })
    expect(h.telemetry.current()).toBeNull()
    expect(h.telemetry.history()).toEqual([])
    const info = await eventually(() => h.infos[0], 'discovery', 30_000)
    expect(info).toMatchObject({ name: null, driverVersion: null, vramTotalMiB: null, pciBusId: null })
    expect(info.cpu.cores).toBeGreaterThan(0)
    expect(info.memoryTotalBytes).toBeGreaterThan(0)
    await h.telemetry.stop()
    expect(h.telemetry.status()).toEqual({ available: false, reason: 'stopped' })
  })

  it('kills an nvidia-smi that stops reporting and says so', async () => {
    const bin = tempDir('vbs-hung-smi-')
    fs.writeFileSync(path.join(bin, 'nvidia-smi'), '#!/bin/sh\nexec sleep 60\n', { mode: 0o755 })
    const h = harness({ env: { PATH: `${bin}:${process.env.PATH ?? ''}` }, stallMs: 500, noGpuRetryMs: 60_000 })
    await h.telemetry.start()
    const pid = await eventually(() => h.telemetry.pid, 'the child', 30_000)
    h.pids.add(pid)
    const status = await eventually(() => (h.telemetry.status().reason?.includes('no sample') ? h.telemetry.status() : null), 'the stall', 30_000)
    expect(status.reason).toBe('nvidia-smi failed (no sample for 0.5 s); checking again every 60 s')
    await eventually(() => !alive(pid), 'the hung child to be gone', 30_000)
  })

  it('discovers the card, its driver and the CPU without blocking start()', async () => {
    const fake = fakeEngineEnv()
    fake.setGpu({ driver_version: '555.42.06' })
    const h = harness({ env: fake.env })
    await h.telemetry.start()
    const info = await eventually(() => h.infos[0], 'discovery', 30_000)
    expect(info).toMatchObject({ name: 'NVIDIA GeForce RTX 4080', vramTotalMiB: 16376, driverVersion: '555.42.06', pciBusId: '00000000:01:00.0' })
    expect(info.cpu.brand).toEqual(expect.any(String))
    expect(info.cpu.cores).toBeGreaterThan(0)
    expect(info.memoryTotalBytes).toBeGreaterThan(0)
    expect(h.telemetry.info()).toEqual(info)
  })

  it('never blocks the event loop, even sampling at 50 ms with discovery under way', async () => {
    const fake = fakeEngineEnv()
    const h = harness({ env: fake.env, pollMs: 50 })
    let worstLag = 0
    let last = Date.now()
    const ticker = setInterval(() => {
      const now = Date.now()
      worstLag = Math.max(worstLag, now - last - 10)
      last = now
    }, 10)
    try {
      await h.telemetry.start()
      await eventually(() => h.telemetry.status().available, 'sampling', 30_000)
      const from = h.samples.length
      const until = Date.now() + 1000
      await eventually(() => Date.now() >= until, '1 s of sampling', 30_000)
      expect(h.samples.length - from).toBeGreaterThanOrEqual(5)
    } finally {
      clearInterval(ticker)
    }
    expect(worstLag).toBeLessThan(200)
  })

  it('stop() ends the child and the sampling, and start() works again', async () => {
    const fake = fakeEngineEnv()
    const h = harness({ env: fake.env })
    await h.telemetry.start()
    await eventually(() => h.telemetry.status().available, 'sampling', 30_000)
    const pid = h.telemetry.pid!
    await h.telemetry.stop()
    expect(alive(pid)).toBe(false)
    expect(h.telemetry.pid).toBeNull()
    expect(nvidiaSmiChildren()).toEqual([])
    expect(h.telemetry.status()).toEqual({ available: false, reason: 'stopped' })
    expect(h.telemetry.reading().temperatureC).toBeNull()
    const count = h.samples.length
    await new Promise((r) => setTimeout(r, 300)) // no sample may come after stop(): nothing to wait for
    expect(h.samples.length).toBe(count)

    await h.telemetry.start()
    await eventually(() => h.telemetry.status().available && h.samples.length > count, 'sampling again', 30_000)
  })
})
