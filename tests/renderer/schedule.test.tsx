// @vitest-environment happy-dom
import { fireEvent, screen, waitFor, within } from '@testing-library/react'
import { describe, expect, test } from 'vitest'
import type { Job, PowerWindow, ScheduleState } from '../../main/contract'
import { envelope, job, json } from './fake-service'
import { startWithService } from './render-app'

const NEXT_START = (() => {
  const d = new Date()
  d.setDate(d.getDate() + 1)
  d.setHours(22, 0, 0, 0)
  return d.getTime()
})()

const HELD = `held: batches run 22:00-07:00 (VBS_BATCH_HOURS); this job starts ${new Date(NEXT_START).toDateString().slice(0, 3)} at 22:00`

function schedule(over: Partial<ScheduleState> = {}): ScheduleState {
  return { open: true, hold: null, batch_hours: '', when_idle: false, next_start: null, run_now_until: null, run_now: false, power: null, ...over }
}

const closed = schedule({ open: false, hold: { kind: 'quiet_hours', detail: HELD }, batch_hours: '22:00-07:00', next_start: NEXT_START })

const queuedA = job({
  id: 'batch_a',
  priority: 'normal',
  progress: null,
  running: false,
  queue: { position: 1, reason: 'warm', detail: 'its model gemma-3-12b is loaded or asleep in the warm pool: runs before older jobs without a model load', eta_seconds: 240 },
})
const queuedB = job({
  id: 'batch_b',
  model: 'qwen3-8b',
  created_at: 1_763_700_000,
  priority: 'normal',
  progress: null,
  running: false,
  queue: { position: 2, reason: 'arrival', detail: 'in order of arrival', eta_seconds: null },
})

const page = (data: Job[], sched: ScheduleState | undefined): { object: 'list'; data: Job[]; has_more: boolean; paused: boolean; schedule?: ScheduleState } => ({
  object: 'list',
  data,
  has_more: false,
  paused: false,
  ...(sched ? { schedule: sched } : {}),
})

describe('the queue\'s order on each job', () => {
  test('a queued job shows its place, why it is there and when it starts', async () => {
    startWithService((s) => (s.jobs = page([queuedA, queuedB], schedule())))
    const a = await screen.findByTestId('job-batch_a')
    const place = within(a).getByTestId('queue-place')
    expect(place.dataset.reason).toBe('warm')
    expect(place.textContent).toContain('#1 in the queue')
    expect(place.textContent).toContain('its model gemma-3-12b is loaded')
    expect(within(a).getByTestId('queue-eta').textContent).toBe('starts in about 4 min')
    const b = screen.getByTestId('job-batch_b')
    expect(within(b).getByTestId('queue-place').textContent).toContain('#2 in the queue')
    expect(within(b).getByTestId('queue-eta').textContent).toBe('start time not known yet')
  })

  test('the priority selector sends PUT /api/batches/{id}/priority and the new places show', async () => {
    const { service } = startWithService((s) => {
      s.jobs = page([queuedA, queuedB], schedule())
      s.onMatch('PUT', /^\/api\/batches\/batch_b\/priority$/, (call) => {
        const raised: Job = { ...queuedB, priority: 'high', queue: { position: 1, reason: 'priority', detail: 'high priority: runs before normal and low jobs', eta_seconds: 0 } }
        s.jobs = page([{ ...queuedA, queue: { ...queuedA.queue!, position: 2 } }, raised], schedule())
        expect(call.body).toEqual({ priority: 'high' })
        return json(raised)
      })
    })
    const b = await screen.findByTestId('job-batch_b')
    const select = within(b).getByRole('combobox', { name: 'Priority of batch_b' }) as HTMLSelectElement
    expect(select.value).toBe('normal')
    expect([...select.options].map((o) => o.value)).toEqual(['high', 'normal', 'low'])
    fireEvent.change(select, { target: { value: 'high' } })
    await waitFor(() => expect(service.callsTo('PUT', '/api/batches/batch_b/priority')).toHaveLength(1))
    await waitFor(() => expect(within(b).getByTestId('queue-place').textContent).toContain('#1 in the queue'))
    expect(within(b).getByTestId('queue-place').dataset.reason).toBe('priority')
    expect(within(b).getByTestId('queue-eta').textContent).toBe('starts next')
    await waitFor(() => expect(within(screen.getByTestId('job-batch_a')).getByTestId('queue-place').textContent).toContain('#2 in the queue'))
  })

  test('a refused priority change says why on the job', async () => {
    startWithService((s) => {
      s.jobs = page([queuedB], schedule())
      s.onMatch('PUT', /^\/api\/batches\/batch_b\/priority$/, () => envelope(409, "Batch batch_b has status 'completed': only a batch that is validating or queued to run has a priority to change.", 'batch_not_queued', 'id'))
    })
    const b = await screen.findByTestId('job-batch_b')
    fireEvent.change(within(b).getByRole('combobox', { name: 'Priority of batch_b' }), { target: { value: 'low' } })
    expect((await within(b).findByRole('alert')).textContent).toContain('only a batch that is validating or queued to run')
  })
})

describe('batch hours in the dashboard', () => {
  test('outside the batch hours a banner says when jobs start; "Run now anyway" overrides until the window opens, and back', async () => {
    const { service } = startWithService((s) => {
      s.jobs = page([{ ...queuedA, hold: { kind: 'quiet_hours', detail: HELD, since: Date.now() } }], closed)
      s.on('POST', '/api/batches/run-now', () => {
        const on = schedule({ batch_hours: '22:00-07:00', run_now: true, run_now_until: NEXT_START })
        s.jobs = page([queuedA], on)
        return json(on)
      })
      s.on('DELETE', '/api/batches/run-now', () => {
        s.jobs = page([queuedA], closed)
        return json(closed)
      })
    })
    const banner = await screen.findByTestId('schedule-held')
    expect(banner.dataset.hold).toBe('quiet_hours')
    expect(banner.textContent).toContain('Outside the batch hours')
    expect(banner.textContent).toContain(`batch jobs start ${new Date(NEXT_START).toLocaleDateString('en-GB', { weekday: 'short' })} at 22:00`)
    expect(banner.textContent).toContain('Real-time requests are served as usual')
    expect(within(screen.getByTestId('job-batch_a')).getByTestId('batch-detail').dataset.hold).toBe('quiet_hours')

    fireEvent.click(within(banner).getByRole('button', { name: 'Run now anyway' }))
    await waitFor(() => expect(service.callsTo('POST', '/api/batches/run-now')).toHaveLength(1))
    const on = await screen.findByTestId('schedule-run-now')
    expect(on.textContent).toContain('Running now anyway, until the batch hours open')
    expect(screen.queryByTestId('schedule-held')).toBeNull()

    fireEvent.click(within(on).getByRole('button', { name: 'Back to batch hours' }))
    await waitFor(() => expect(service.callsTo('DELETE', '/api/batches/run-now')).toHaveLength(1))
    expect(await screen.findByTestId('schedule-held')).toBeTruthy()
  })

  test('idle-only: held while the desktop is in use; nothing shown when no schedule is set', async () => {
    startWithService((s) => (s.jobs = page([queuedA], schedule({ open: false, when_idle: true, hold: { kind: 'not_idle', detail: 'held: batches run only while the desktop is idle (VBS_BATCH_WHEN_IDLE); the job starts after 300 s without use' } }))))
    const banner = await screen.findByTestId('schedule-held')
    expect(banner.textContent).toContain('The desktop is in use')
    expect(banner.textContent).toContain('batch jobs start once the desktop is idle')
    expect(screen.queryByTestId('schedule-note')).toBeNull()
  })

  test('a schedule that lets batches run now is named in a note, without a banner', async () => {
    startWithService((s) => (s.jobs = page([queuedA], schedule({ batch_hours: '22:00-07:00' }))))
    expect((await screen.findByTestId('schedule-note')).textContent).toBe('Batch hours 22:00-07:00.')
    expect(screen.queryByTestId('schedule-held')).toBeNull()
  })

  test('the banner follows a batch.progress event that says the window closed', async () => {
    const { service } = startWithService((s) => (s.jobs = page([queuedA], schedule({ batch_hours: '22:00-07:00' }))))
    await screen.findByTestId('schedule-note')
    await waitFor(() => expect(service.openStreams).toBe(1))
    service.jobs = page([{ ...queuedA, hold: { kind: 'quiet_hours', detail: HELD, since: Date.now() } }], closed)
    service.push('batch.progress', {
      id: 'batch_a',
      progress: { chunk: 1, chunks: 2, completed: 10, failed: 0, total: 20, requestsPerSecond: 0, tokensPerSecond: 0, etaSeconds: null, hold: { kind: 'quiet_hours', detail: HELD, since: Date.now() }, updatedAt: Date.now() },
    })
    expect(await screen.findByTestId('schedule-held')).toBeTruthy()
  })
})

test('a settings.changed event reads the schedule again (batch hours set from another window)', async () => {
  const { service } = startWithService((s) => (s.jobs = page([queuedA], schedule())))
  await screen.findByTestId('job-batch_a')
  await waitFor(() => expect(service.openStreams).toBe(1))
  expect(screen.queryByTestId('schedule-held')).toBeNull()
  service.jobs = page([queuedA], closed)
  service.push('settings.changed', {})
  expect((await screen.findByTestId('schedule-held')).textContent).toContain('Outside the batch hours')
})

describe('the power cap next to the temperature chart', () => {
  const power = (over: Partial<PowerWindow> = {}): PowerWindow => ({ cap_w: 250, draw_w: 180, window: 16, max_window: 16, ...over })
  const running = (p: PowerWindow): Job =>
    job({
      id: 'batch_run',
      running: true,
      priority: 'normal',
      queue: null,
      progress: { chunk: 1, chunks: 4, completed: 100, failed: 0, total: 400, requestsPerSecond: 10, tokensPerSecond: 900, etaSeconds: 30, hold: null, updatedAt: Date.now(), power: p },
    })

  test('shows the cap and the window, narrowed while the GPU draws more, from the running job\'s progress', async () => {
    const { service } = startWithService((s) => (s.jobs = page([running(power())], schedule({ power: power() }))))
    const gpu = await screen.findByTestId('gpu')
    const cap = await within(gpu).findByTestId('gpu-power-cap')
    expect(cap.textContent).toBe('Power cap 250 W (drawing 180 W): up to 16 batch requests in flight')
    await waitFor(() => expect(service.openStreams).toBe(1))
    service.push('batch.progress', { id: 'batch_run', progress: { ...running(power()).progress!, power: power({ draw_w: 290, window: 4 }) } })
    await waitFor(() => expect(within(gpu).getByTestId('gpu-power-cap').textContent).toBe('Power cap 250 W (drawing 290 W): batch requests in flight narrowed to 4 of 16'))
  })

  test('without a cap there is no line', async () => {
    startWithService((s) => (s.jobs = page([queuedA], schedule())))
    await screen.findByTestId('gpu-temperature')
    await screen.findByTestId('job-batch_a')
    expect(screen.queryByTestId('gpu-power-cap')).toBeNull()
  })
})
