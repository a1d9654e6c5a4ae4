// Chaos: the data disk fills up while a job runs (a small tmpfs as the data dir; needs root, skipped with the
// reason otherwise). The job is held, not failed, /health says disk_full, and once space is freed the job goes
// on by itself and ends with every custom_id exactly once, each with its own answer.
import type { Job } from '../../main/contract/jobs'
import fs from 'node:fs'
import path from 'node:path'
import { afterAll, afterEach, describe, expect, it } from 'vitest'
import { jsonl } from '../helpers/service'
import { eventually, fakeServices } from '../helpers/fake-engine'
import { batchReaches, submitBatch } from '../helpers/batches'
import { mountSmallDisk, unmount } from '../helpers/tmpfs'

const LONG = process.env.CHAOS_LONG === '1'
const MiB = 1024 * 1024

const disk = mountSmallDisk(LONG ? 64 : 32, 'vbs-chaos-disk-')
const refused = typeof disk === 'string' ? null : disk.refused
if (refused) console.warn(`chaos disk-fills test skipped: ${refused}`)
afterAll(() => {
  if (typeof disk === 'string') unmount(disk)
})

const services = fakeServices({ retryBaseMs: 50 })
afterEach(services.cleanup)

/** Writes ballast until the disk refuses more (ENOSPC); returns its path. */
function fillUp(dir: string): string {
  const ballast = path.join(dir, 'ballast.bin')
  const fd = fs.openSync(ballast, 'w')
  const block = Buffer.alloc(256 * 1024, 7)
  try {
    for (;;) fs.writeSync(fd, block)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err
  }
  // The last few KB the big writes could not use.
  const small = Buffer.alloc(4096, 7)
  try {
    for (;;) fs.writeSync(fd, small)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err
  } finally {
    fs.closeSync(fd)
  }
  return ballast
}

interface Health {
  status: string
  problems: string[]
  disk: { full: boolean; reason: string | null }
}

describe.skipIf(refused !== null)('chaos: the data disk fills while a job runs', () => {
  it('holds the job, says disk_full, and finishes it with every custom_id once after space is freed', { timeout: 600_000 }, async () => {
    const n = LONG ? 20_000 : 4_000
    const root = disk as string
    const { t } = await services.boot({}, { minFreeMb: 1, commitRows: 200 }, path.join(root, 'data'))
    t.service.scheduler.pause()
    const batch = await submitBatch(t, jsonl(n, 'd'))
    await batchReaches(t, batch.id, ['in_progress'])
    t.service.scheduler.resume()
    // Let it get going, then take all the space there is.
    await eventually(async () => ((await t.client.batches.retrieve(batch.id)).request_counts?.completed ?? 0) >= n / 10, 'a tenth of the job', 240_000)
    const ballast = fillUp(root)
    expect(fs.statfsSync(root).bavail * fs.statfsSync(root).bsize).toBeLessThan(MiB)

    const why = await eventually(async () => {
      const j = (await (await t.api(`/api/batches/${batch.id}`)).json()) as Job
      return j.hold?.kind === 'disk_full' && j.hold.detail.startsWith('held: the disk') ? j.hold.detail : null
    }, 'the job to be held for lack of space', 240_000)
    expect(why).toContain('goes on by itself once space is freed')
    const health = (await (await t.api('/health')).json()) as Health
    expect(health.problems).toContain('disk_full')
    expect(health.status).toBe('degraded')
    expect((await t.client.batches.retrieve(batch.id)).status).toBe('in_progress')
    // Other requests still get answers while the disk is full.
    expect((await t.client.models.list()).data.length).toBeGreaterThan(0)

    fs.rmSync(ballast)
    const done = await batchReaches(t, batch.id, ['completed', 'failed', 'cancelled', 'expired'], 480_000)
    expect(done.status).toBe('completed')
    expect(done.request_counts).toEqual({ total: n, completed: n, failed: 0 })
    const text = await (await t.client.files.content(done.output_file_id!)).text()
    const lines = text.split('\n').filter(Boolean).map((l) => JSON.parse(l) as { custom_id: string; response: { body: { choices: { message: { content: string } }[] } } })
    expect(lines.length).toBe(n)
    expect(new Set(lines.map((l) => l.custom_id)).size).toBe(n)
    for (const l of lines) expect(l.response.body.choices[0].message.content).toBe(`echo: Say ${l.custom_id}`)
    await eventually(async () => !((await (await t.api('/health')).json()) as Health).problems.includes('disk_full'), '/health to stop saying disk_full')
  })
})
