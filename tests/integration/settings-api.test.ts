import fs from 'node:fs'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import OpenAI from 'openai'
import { startService, type TestService } from '../helpers/service'

let t: TestService
beforeAll(async () => {
  t = await startService({ apiKey: undefined as unknown as string })
})
afterAll(async () => {
  await t.stop()
})

const put = (body: unknown): Promise<Response> =>
  t.api('/api/settings', { method: 'PUT', body: JSON.stringify(body), headers: { 'content-type': 'application/json' } })

describe('settings API', () => {
  it('shows the settings, saves changes to settings.json and applies thresholds and chunk size at once', async () => {
    const before = (await (await t.api('/api/settings')).json()) as Record<string, unknown>
    expect(before).toMatchObject({ lan: true, host: '0.0.0.0', thermal_pause_c: 83, thermal_resume_c: 75, chunk_size: 5000, start_at_login: true })
    expect(before.api_key).toBe(t.apiKey)
    expect(before.share_url).toBe(t.url) // it listens on loopback only: that is the address to share

    const res = await put({ thermal_pause_c: 80, thermal_resume_c: 70, chunk_size: 1000, start_at_login: false })
    expect(res.status).toBe(200)
    expect(await res.json()).toMatchObject({ thermal_pause_c: 80, thermal_resume_c: 70, chunk_size: 1000, start_at_login: false })
    expect(JSON.parse(fs.readFileSync(path.join(t.dataDir, 'settings.json'), 'utf8'))).toEqual({ thermalPauseC: 80, thermalResumeC: 70, chunkSize: 1000, startAtLogin: false })
    expect(t.service.thermal.pauseC).toBe(80)
    expect(t.service.settings.chunkSize).toBe(1000)
    const health = (await (await t.api('/health')).json()) as { limits: { thermal_pause_c: number } }
    expect(health.limits.thermal_pause_c).toBe(80)
  })

  it('saves port and LAN for the next start and says a restart is needed', async () => {
    const body = (await (await put({ lan: true, port: 4099 })).json()) as Record<string, unknown>
    expect(body).toMatchObject({ lan: true, host: '0.0.0.0', port: 4099, restart_required: true })
    expect((body.listening as { port: number }).port).toBe(t.service.port)
    const off = (await (await put({ lan: false })).json()) as Record<string, unknown>
    expect(off).toMatchObject({ lan: false, host: '127.0.0.1' })
    expect(JSON.parse(fs.readFileSync(path.join(t.dataDir, 'settings.json'), 'utf8'))).toMatchObject({ host: '127.0.0.1', port: 4099 })
  })

  it('refuses bad values, naming them, and writes nothing', async () => {
    const file = path.join(t.dataDir, 'settings.json')
    const before = fs.readFileSync(file, 'utf8')
    for (const [body, param] of [
      [{ thermal_pause_c: 70, thermal_resume_c: 75 }, null],
      [{ chunk_size: 0 }, 'chunk_size'],
      [{ port: 'x' }, 'port'],
      [{ lan: 'yes' }, 'lan'],
      [{ colour: 'blue' }, 'colour'],
    ] as const) {
      const res = await put(body)
      expect(res.status).toBe(400)
      const err = (await res.json()) as { error: { param: string | null; message: string } }
      expect(err.error.param).toBe(param)
    }
    expect(fs.readFileSync(file, 'utf8')).toBe(before)
  })

  it('refuses a port outside 1024-65535, a pause threshold over 95 °C and a chunk size over 100,000 with a clear 400', async () => {
    const file = path.join(t.dataDir, 'settings.json')
    const before = fs.readFileSync(file, 'utf8')
    for (const [body, param, says] of [
      [{ port: 80 }, 'port', "Invalid 'port': must be a port number 1024-65535, got 80."],
      [{ port: 70000 }, 'port', "Invalid 'port': must be a port number 1024-65535, got 70000."],
      [{ thermal_pause_c: 96 }, 'thermal_pause_c', "Invalid 'thermal_pause_c': must be at most 95, got 96."],
      [{ chunk_size: 100_001 }, 'chunk_size', "Invalid 'chunk_size': must be at most 100000, got 100001."],
    ] as const) {
      const res = await put(body)
      expect([param, res.status]).toEqual([param, 400])
      const err = (await res.json()) as { error: { param: string | null; message: string; type: string; code: string } }
      expect(err.error).toEqual({ message: says, type: 'invalid_request_error', param, code: 'invalid_value' })
    }
    expect(fs.readFileSync(file, 'utf8')).toBe(before)
    expect((await put({ port: 1024, chunk_size: 100_000, thermal_pause_c: 95 })).status).toBe(200)
    expect((await put({ port: 65535 })).status).toBe(200)
  })

  it('sets the batch hours, idle-only, the power cap and the aging limit: applied at once, bad values refused by name', async () => {
    const file = path.join(t.dataDir, 'settings.json')
    const res = await put({ batch_hours: '22:00-7:00', batch_when_idle: true, gpu_power_limit_w: 250, max_queue_wait_minutes: 30 })
    expect(res.status).toBe(200)
    expect(await res.json()).toMatchObject({ batch_hours: '22:00-07:00', batch_when_idle: true, gpu_power_limit_w: 250, max_queue_wait_minutes: 30 })
    // The file keeps what was sent; what applies is the window as read.
    expect(JSON.parse(fs.readFileSync(file, 'utf8'))).toMatchObject({ batchHours: '22:00-7:00', batchWhenIdle: true, gpuPowerLimitW: 250, maxQueueWaitMinutes: 30 })
    expect(t.service.settings.batchHours).toBe('22:00-07:00')
    // Applied while running: the schedule the queue shows follows.
    const schedule = ((await (await t.api('/api/batches')).json()) as { schedule: { batch_hours: string; when_idle: boolean; power: { cap_w: number } | null } }).schedule
    expect(schedule).toMatchObject({ batch_hours: '22:00-07:00', when_idle: true, power: { cap_w: 250 } })

    const before = fs.readFileSync(file, 'utf8')
    for (const [body, param, says] of [
      [{ batch_hours: 'nights' }, 'batch_hours', `Invalid 'batch_hours': must be a daily window like "22:00-07:00" (start-end, 24-hour local time), or empty for any hour; got "nights".`],
      [{ batch_hours: '23:00-23:00' }, 'batch_hours', `Invalid 'batch_hours': starts and ends at the same time ("23:00-23:00"); leave it empty for batches at any hour.`],
      [{ batch_when_idle: 'maybe' }, 'batch_when_idle', `Invalid 'batch_when_idle': must be true or false, got "maybe".`],
      [{ gpu_power_limit_w: -1 }, 'gpu_power_limit_w', `Invalid 'gpu_power_limit_w': must be a whole number >= 0, got -1.`],
    ] as const) {
      const bad = await put(body)
      expect([param, bad.status]).toEqual([param, 400])
      expect(((await bad.json()) as { error: unknown }).error).toEqual({ message: says, type: 'invalid_request_error', param, code: 'invalid_value' })
    }
    expect(fs.readFileSync(file, 'utf8')).toBe(before)
    expect((await put({ batch_hours: '', batch_when_idle: false, gpu_power_limit_w: 0 })).status).toBe(200)
    expect(t.service.settings).toMatchObject({ batchHours: '', batchWhenIdle: false, gpuPowerLimitW: 0 })
  })

  it('answers reading and saving with a clear error while settings.json is broken, and never writes over it', async () => {
    const file = path.join(t.dataDir, 'settings.json')
    const good = fs.readFileSync(file, 'utf8')
    const broken = '{ "thermalPauseC": 80,\n  "chunkSize": 10 00 }\n'
    fs.writeFileSync(file, broken)
    try {
      for (const res of [await t.api('/api/settings'), await put({ chunk_size: 2000 })]) {
        expect(res.status).toBe(500)
        const { error } = (await res.json()) as { error: { message: string; type: string; code: string } }
        expect(error).toMatchObject({ type: 'server_error', code: 'invalid_settings_file' })
        // This machine is an admin: it is told the file's full path.
        expect(error.message).toContain(`${file} is not valid JSON`)
        expect(error.message).toContain('line 2')
      }
      expect(fs.readFileSync(file, 'utf8')).toBe(broken)
      expect((await t.client.models.list()).data.length).toBeGreaterThan(0) // the rest of the service works
    } finally {
      fs.writeFileSync(file, good)
    }
    expect((await t.api('/api/settings')).status).toBe(200)
  })

  it('regenerates the API key: the new key works at once, the old one stops working', async () => {
    const old = t.apiKey
    const res = await t.api('/api/settings/api-key', { method: 'POST' })
    const { api_key: fresh } = (await res.json()) as { api_key: string }
    expect(fresh).not.toBe(old)
    expect(fs.readFileSync(path.join(t.dataDir, 'api-key'), 'utf8').trim()).toBe(fresh)
    const withOld = new OpenAI({ apiKey: old, baseURL: `${t.url}/v1`, maxRetries: 0 })
    expect(await withOld.files.list().catch((e: unknown) => (e as { status: number }).status)).toBe(401)
    const withNew = new OpenAI({ apiKey: fresh, baseURL: `${t.url}/v1`, maxRetries: 0 })
    expect((await withNew.models.list()).data.map((m) => m.id)).toContain('test-model-a')
    t.apiKey = fresh
  })
})

describe('dashboard', () => {
  it('serves the built dashboard at / without a key, and its assets, with a CSP', async () => {
    // `npm test` builds first (pretest), so the dashboard is there.
    const res = await fetch(`${t.url}/`)
    const html = await res.text()
    expect(res.status, html.slice(0, 200)).toBe(200)
    expect(res.headers.get('content-security-policy')).toContain("script-src 'self'")
    const script = /src="\.?\/?(assets\/[^"]+\.js)"/.exec(html)?.[1]
    expect(script).toBeTruthy()
    const js = await fetch(`${t.url}/${script}`)
    expect(js.status).toBe(200)
    expect(js.headers.get('content-type')).toMatch(/javascript/)
    expect((await fetch(`${t.url}/assets/..%2F..%2Fpackage.json`)).status).toBe(404)
  })
})
