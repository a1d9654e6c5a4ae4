import { describe, expect, it } from 'vitest'
import { BatchHoursError, insideHours, nextOpening, parseBatchHours } from '../../main/contract/batch-hours'
import { BatchSchedule, scheduleVerdict, startText } from '../../main/batch/batch-schedule'
import { queueOrder, type QueueCandidate, type QueueInput } from '../../main/batch/queue-order'
import { PowerGovernor } from '../../main/gpu/power-governor'
import { loadSettings } from '../../main/config/settings'
import { tempDir } from '../helpers/service'

// Local times (the batch hours are local): built with the Date constructor, so they hold in any time zone.
const at = (day: number, h: number, m = 0): number => new Date(2026, 0, day, h, m).getTime() // 2026-01-05 is a Monday
const MINUTE = 60_000

describe('batch hours', () => {
  it('parses a daily window, normalised; empty means any hour; bad ones say what is wrong', () => {
    expect(parseBatchHours('')).toBeNull()
    expect(parseBatchHours('  ')).toBeNull()
    expect(parseBatchHours('22:00-07:00')).toEqual({ start: 22 * 60, end: 7 * 60, text: '22:00-07:00' })
    expect(parseBatchHours(' 9:30 - 17:05 ')).toEqual({ start: 9 * 60 + 30, end: 17 * 60 + 5, text: '09:30-17:05' })
    expect(() => parseBatchHours('22-7')).toThrow(BatchHoursError)
    expect(() => parseBatchHours('22-7')).toThrow(/like "22:00-07:00"/)
    expect(() => parseBatchHours('24:00-07:00')).toThrow(/hours 00-23, minutes 00-59/)
    expect(() => parseBatchHours('08:00-08:00')).toThrow(/starts and ends at the same time/)
  })

  it('crosses midnight: 22:00-07:00 is open late in the evening and early in the morning, closed by day', () => {
    const night = parseBatchHours('22:00-07:00')!
    expect(insideHours(night, at(5, 21, 59))).toBe(false)
    expect(insideHours(night, at(5, 22, 0))).toBe(true)
    expect(insideHours(night, at(6, 3, 0))).toBe(true)
    expect(insideHours(night, at(6, 6, 59))).toBe(true)
    expect(insideHours(night, at(6, 7, 0))).toBe(false)
    expect(nextOpening(night, at(5, 12, 0))).toBe(at(5, 22, 0))
    expect(nextOpening(night, at(5, 23, 0))).toBe(at(6, 22, 0))
    const day = parseBatchHours('09:00-17:00')!
    expect(insideHours(day, at(5, 12))).toBe(true)
    expect(insideHours(day, at(5, 17))).toBe(false)
    expect(nextOpening(day, at(5, 18))).toBe(at(6, 9))
  })

  it('holds with the next start outside the window; "run now" lasts until the window next opens', () => {
    const hours = parseBatchHours('22:00-07:00')!
    const base = { hours, whenIdle: false, idleSeconds: null, idleAfterSeconds: 300, runNowUntil: null }
    const noon = scheduleVerdict({ ...base, now: at(5, 12) })
    expect(noon).toEqual({
      open: false,
      kind: 'quiet_hours',
      detail: 'held: batches run 22:00-07:00 (VBS_BATCH_HOURS); this job starts today at 22:00',
      nextStart: at(5, 22),
    })
    expect(scheduleVerdict({ ...base, now: at(5, 23) }).open).toBe(true)
    expect(startText(at(6, 22), at(5, 23))).toBe('Tue at 22:00')

    let now = at(5, 23)
    const schedule = new BatchSchedule({ settings: () => ({ batchHours: '22:00-07:00', batchWhenIdle: false, batchIdleSeconds: 300 }), clock: () => now, idleSeconds: () => null })
    // Inside the window there is nothing to override: "run now" changes nothing (it would outlast the 07:00 close).
    schedule.runNow()
    expect(schedule.state()).toMatchObject({ open: true, run_now: false })
    now = at(5, 12)
    expect(schedule.verdict().open).toBe(false)
    schedule.runNow()
    expect(schedule.state()).toMatchObject({ open: true, run_now: true, run_now_until: at(5, 22), hold: null })
    now = at(5, 21, 59)
    expect(schedule.verdict().open).toBe(true)
    now = at(6, 8) // the window opened and closed again: the schedule holds again
    expect(schedule.verdict()).toMatchObject({ open: false, kind: 'quiet_hours', nextStart: at(6, 22) })
    expect(schedule.state()).toMatchObject({ run_now: false, run_now_until: null })
  })

  it('idle-only: held while the desktop is in use, open once idle long enough, ignored without a desktop', () => {
    let idle: number | null = 10
    const schedule = new BatchSchedule({ settings: () => ({ batchHours: '', batchWhenIdle: true, batchIdleSeconds: 300 }), clock: () => at(5, 12), idleSeconds: () => idle })
    expect(schedule.verdict()).toMatchObject({ open: false, kind: 'not_idle', nextStart: null })
    expect(schedule.state()).toMatchObject({ open: false, when_idle: true, batch_hours: '' })
    idle = 300
    expect(schedule.verdict().open).toBe(true)
    idle = null // headless
    expect(schedule.verdict().open).toBe(true)
    // Run now with idle-only and no hours: until the desktop is next idle.
    idle = 5
    schedule.runNow()
    expect(schedule.state()).toMatchObject({ open: true, run_now: true, run_now_until: null })
    idle = 400
    expect(schedule.verdict().open).toBe(true)
    idle = 5
    expect(schedule.verdict().open).toBe(false)
  })
})

describe('the queue order', () => {
  const job = (id: string, seq: number, model: string, extra: Partial<QueueCandidate> = {}): QueueCandidate => ({
    id,
    seq,
    status: 'in_progress',
    model,
    priority: 'normal',
    queuedAt: at(5, 12),
    comparisonId: null,
    remaining: 100,
    ...extra,
  })
  const input = (jobs: QueueCandidate[], extra: Partial<QueueInput> = {}): QueueInput => ({
    jobs,
    running: null,
    warm: (m) => m === 'A',
    now: at(5, 12, 30),
    maxWaitMs: 120 * MINUTE,
    rate: () => 10,
    ...extra,
  })
  const order = (i: QueueInput): string[] => queueOrder(i).map((e) => e.id)

  it('runs jobs of the loaded model first: A, B, A submitted run A, A, B', () => {
    const entries = queueOrder(input([job('a1', 1, 'A'), job('b', 2, 'B'), job('a2', 3, 'A')]))
    expect(entries.map((e) => [e.id, e.position, e.reason])).toEqual([
      ['a1', 1, 'arrival'],
      ['a2', 2, 'warm'],
      ['b', 3, 'arrival'],
    ])
    // ETAs: 100 requests at 10/s each before it.
    expect(entries.map((e) => e.etaSeconds)).toEqual([0, 10, 20])
  })

  it('a job past the aging limit is not overtaken by jobs of the loaded model', () => {
    const jobs = [job('b', 1, 'B', { queuedAt: at(5, 10) }), job('a', 2, 'A')]
    expect(queueOrder(input(jobs)).map((e) => [e.id, e.reason])).toEqual([
      ['b', 'overdue'],
      ['a', 'arrival'],
    ])
    expect(order(input(jobs, { maxWaitMs: 180 * MINUTE }))).toEqual(['a', 'b'])
  })

  it('priority goes first, low goes last; the running job\'s time left comes before everyone', () => {
    const jobs = [job('low', 1, 'A', { priority: 'low' }), job('n', 2, 'B'), job('high', 3, 'B', { priority: 'high' })]
    const entries = queueOrder(input(jobs, { running: { id: 'r', model: 'A', comparisonId: null, etaSeconds: 30 } }))
    expect(entries.map((e) => [e.id, e.reason])).toEqual([
      ['high', 'priority'],
      ['n', 'arrival'],
      ['low', 'priority'],
    ])
    expect(entries.map((e) => e.etaSeconds)).toEqual([30, 40, 50])
  })

  it('the arms of a comparison run one after another, in order, before jobs that merely share a model', () => {
    const jobs = [
      job('arm1', 1, 'B', { comparisonId: 'cmp_1' }),
      job('other', 2, 'A'),
      job('arm2', 3, 'A', { comparisonId: 'cmp_1' }),
      job('later', 4, 'C'),
    ]
    expect(queueOrder(input(jobs, { warm: () => false })).map((e) => [e.id, e.reason])).toEqual([
      ['arm1', 'arrival'],
      ['arm2', 'comparison'],
      ['other', 'arrival'],
      ['later', 'arrival'],
    ])
    // Between two jobs the arm that ran last still leads to the next one.
    const after = [job('other', 2, 'A'), job('arm2', 3, 'A', { comparisonId: 'cmp_1' })]
    expect(queueOrder(input(after, { warm: () => false, previous: { comparisonId: 'cmp_1' } })).map((e) => [e.id, e.reason])).toEqual([
      ['arm2', 'comparison'],
      ['other', 'arrival'],
    ])
    // An arm whose earlier arm still validates waits for it.
    const validating = [job('arm1', 1, 'B', { comparisonId: 'cmp_1', status: 'validating' }), job('arm2', 2, 'A', { comparisonId: 'cmp_1' }), job('x', 3, 'A')]
    expect(queueOrder(input(validating)).map((e) => [e.id, e.reason, e.runnable])).toEqual([
      ['x', 'arrival', true],
      ['arm2', 'comparison', false],
    ])
  })

  it('has no ETA past a job whose model has no rate yet, and adds the wait for the batch hours', () => {
    const jobs = [job('a', 1, 'A'), job('b', 2, 'B')]
    expect(queueOrder(input(jobs, { rate: (m) => (m === 'A' ? null : 5) })).map((e) => e.etaSeconds)).toEqual([0, null])
    expect(queueOrder(input(jobs, { delaySeconds: 3600 })).map((e) => e.etaSeconds)).toEqual([3600, 3610])
  })
})

describe('the power cap', () => {
  it('narrows the window by a quarter per sample above the cap, holds near it, widens below 90 % of it', () => {
    let cap = 200
    const g = new PowerGovernor(() => cap)
    g.setMax(8)
    expect(g.window).toBe(8)
    expect(g.update(150)).toBe(false)
    expect([g.update(250), g.window]).toEqual([true, 6])
    g.update(250)
    g.update(250)
    expect(g.window).toBe(3)
    g.update(250)
    g.update(250)
    g.update(250)
    expect(g.window).toBe(1) // never below one
    expect(g.update(190)).toBe(false) // between 90 % and the cap: it holds
    g.update(100)
    expect(g.window).toBe(2)
    for (let i = 0; i < 10; i++) g.update(100)
    expect(g.window).toBe(8) // never above the job's concurrency
    expect({ cap: g.cap, drawW: g.drawW, max: g.maxWindow }).toEqual({ cap: 200, drawW: 100, max: 8 })
    g.update(300)
    cap = 0 // no cap: the full window
    expect(g.window).toBe(8)
    expect(g.cap).toBeNull()
    expect(g.update(null)).toBe(false)
  })
})

describe('scheduling settings', () => {
  it('reads the batch hours, idle-only, the aging limit and the power cap, and names what is wrong', () => {
    const dataDir = tempDir()
    expect(loadSettings({ VBS_DATA_DIR: dataDir })).toMatchObject({ batchHours: '', batchWhenIdle: false, maxQueueWaitMinutes: 120, gpuPowerLimitW: 0 })
    expect(
      loadSettings({ VBS_DATA_DIR: dataDir, VBS_BATCH_HOURS: '22:00-7:00', VBS_BATCH_WHEN_IDLE: 'true', VBS_MAX_QUEUE_WAIT_MINUTES: '45.5', VBS_GPU_POWER_LIMIT_W: '250' }),
    ).toMatchObject({ batchHours: '22:00-07:00', batchWhenIdle: true, maxQueueWaitMinutes: 45.5, gpuPowerLimitW: 250 })
    expect(() => loadSettings({ VBS_DATA_DIR: dataDir, VBS_BATCH_HOURS: 'nights' })).toThrow(/VBS_BATCH_HOURS must be a daily window like "22:00-07:00"/)
    expect(() => loadSettings({ VBS_DATA_DIR: dataDir, VBS_BATCH_HOURS: '25:00-07:00' })).toThrow(/VBS_BATCH_HOURS has a time that does not exist/)
    expect(() => loadSettings({ VBS_DATA_DIR: dataDir, VBS_BATCH_WHEN_IDLE: 'sometimes' })).toThrow(/VBS_BATCH_WHEN_IDLE must be true or false/)
    expect(() => loadSettings({ VBS_DATA_DIR: dataDir, VBS_GPU_POWER_LIMIT_W: '-5' })).toThrow(/VBS_GPU_POWER_LIMIT_W must be a whole number >= 0/)
    expect(() => loadSettings({ VBS_DATA_DIR: dataDir, VBS_MAX_QUEUE_WAIT_MINUTES: 'soon' })).toThrow(/VBS_MAX_QUEUE_WAIT_MINUTES must be a number >= 0/)
  })
})
