import { describe, expect, it, vi, type Mock } from 'vitest'
import {
  batchLine,
  menuLabel,
  menuSignature,
  statusLine,
  stoppingMenuTemplate,
  TOOLTIP_MAX,
  TRAY_STATES,
  trayMenuTemplate,
  trayState,
  trayTooltip,
  type TrayActions,
  type TrayMenuItem,
  type TraySnapshot,
} from '../../main/app/tray-menu'
import { GPU_SAMPLE_STALE_MS, traySnapshot, type TraySource } from '../../main/app/tray-snapshot'

function snapshot(patch: Partial<TraySnapshot> = {}, engine: Partial<TraySnapshot['engine']> = {}): TraySnapshot {
  return {
    engine: { kind: 'vllm', state: 'stopped', model: null, phase: null, lastError: null, inFlight: 0, leasedBy: null, download: null, ...engine },
    models: ['gemma-3-12b', 'qwen3-8b', 'llama-3.1-8b'],
    asleep: [],
    kinds: {},
    defaultModel: 'gemma-3-12b',
    batch: null,
    batchesPaused: false,
    schedule: { held: null, runNow: false },
    thermal: { paused: false, reason: null },
    gpuTemperatureC: 64,
    startAtLogin: true,
    startAtLoginLockedBy: null,
    ...patch,
  }
}

type MockedActions = { [K in keyof TrayActions]: Mock<TrayActions[K]> }

function actions(): MockedActions {
  return {
    startEngine: vi.fn<TrayActions['startEngine']>(),
    stopEngine: vi.fn<TrayActions['stopEngine']>(),
    loadModel: vi.fn<TrayActions['loadModel']>(),
    pauseBatches: vi.fn<TrayActions['pauseBatches']>(),
    resumeBatches: vi.fn<TrayActions['resumeBatches']>(),
    runNow: vi.fn<TrayActions['runNow']>(),
    followSchedule: vi.fn<TrayActions['followSchedule']>(),
    openDashboard: vi.fn<TrayActions['openDashboard']>(),
    copyApiUrl: vi.fn<TrayActions['copyApiUrl']>(),
    copyApiKey: vi.fn<TrayActions['copyApiKey']>(),
    copyDashboardLink: vi.fn<TrayActions['copyDashboardLink']>(),
    setStartAtLogin: vi.fn<TrayActions['setStartAtLogin']>(),
    quit: vi.fn<TrayActions['quit']>(),
  }
}

function find(items: readonly TrayMenuItem[], id: string): TrayMenuItem | undefined {
  for (const item of items) {
    if (item.kind !== 'separator' && item.id === id) return item
    if (item.kind === 'submenu') {
      const inner = find(item.items, id)
      if (inner) return inner
    }
  }
  return undefined
}

function get<K extends TrayMenuItem['kind']>(items: readonly TrayMenuItem[], id: string, kind: K): Extract<TrayMenuItem, { kind: K }> {
  const item = find(items, id)
  expect(item, `menu item ${id}`).toBeDefined()
  expect(item!.kind).toBe(kind)
  return item as Extract<TrayMenuItem, { kind: K }>
}

const running = { id: 'batch_abc', done: 12_340, total: 50_000, waiting: null }

describe('trayState: one icon per state', () => {
  it('is idle with the engine stopped, or ready with nothing to do', () => {
    expect(trayState(snapshot())).toBe('idle')
    expect(trayState(snapshot({}, { state: 'ready', model: 'gemma-3-12b' }))).toBe('idle')
  })

  it('is loading while the engine starts or stops', () => {
    expect(trayState(snapshot({}, { state: 'starting', model: 'gemma-3-12b' }))).toBe('loading')
    expect(trayState(snapshot({}, { state: 'stopping', model: 'gemma-3-12b' }))).toBe('loading')
  })

  it('is busy while a batch runs or real-time requests are in flight', () => {
    expect(trayState(snapshot({ batch: running }, { state: 'ready', model: 'gemma-3-12b' }))).toBe('busy')
    expect(trayState(snapshot({}, { state: 'ready', model: 'gemma-3-12b', inFlight: 2 }))).toBe('busy')
  })

  it('is not busy for a batch that waits or is paused by the user', () => {
    const waiting = { ...running, waiting: 'waiting for engine: vLLM not found' }
    expect(trayState(snapshot({ batch: waiting }, { state: 'ready', model: 'gemma-3-12b' }))).toBe('idle')
    expect(trayState(snapshot({ batch: running, batchesPaused: true }, { state: 'ready', model: 'gemma-3-12b' }))).toBe('idle')
  })

  it('is hot while the thermal guard holds the batches, even with a batch running', () => {
    const thermal = { paused: true, reason: 'paused: GPU 86 °C (pauses at 83 °C, resumes at 75 °C)' }
    expect(trayState(snapshot({ batch: running, thermal }, { state: 'ready', model: 'gemma-3-12b' }))).toBe('hot')
  })

  it('is error when the engine failed, whatever else is going on', () => {
    const thermal = { paused: true, reason: 'paused: GPU 86 °C' }
    expect(trayState(snapshot({ batch: running, thermal }, { state: 'failed', lastError: 'vLLM not found' }))).toBe('error')
  })

  it('uses exactly the five states that have icons', () => {
    expect([...TRAY_STATES].sort()).toEqual(['busy', 'error', 'hot', 'idle', 'loading'])
  })
})

describe('trayTooltip', () => {
  it('reads like "GPU 64 °C · gemma-3-12b · batch 12,340 / 50,000"', () => {
    const s = snapshot({ batch: running, gpuTemperatureC: 63.6 }, { state: 'ready', model: 'gemma-3-12b' })
    expect(trayTooltip(s)).toBe('GPU 64 °C · gemma-3-12b · batch 12,340 / 50,000')
  })

  it('says what the engine does when no model is ready', () => {
    expect(trayTooltip(snapshot())).toBe('GPU 64 °C · engine stopped')
    expect(trayTooltip(snapshot({}, { state: 'starting', model: 'qwen3-8b' }))).toBe('GPU 64 °C · qwen3-8b loading…')
    expect(trayTooltip(snapshot({}, { state: 'stopping', model: 'qwen3-8b' }))).toBe('GPU 64 °C · qwen3-8b stopping…')
  })

  it('leaves out the GPU without a reading', () => {
    expect(trayTooltip(snapshot({ gpuTemperatureC: null }, { state: 'ready', model: 'qwen3-8b' }))).toBe('qwen3-8b')
  })

  it('adds the reason on a second line: engine error, heat, a pause, a waiting batch', () => {
    expect(trayTooltip(snapshot({}, { state: 'failed', model: 'qwen3-8b', lastError: 'vLLM not found (looked for vllm)\nmore' }))).toBe(
      'GPU 64 °C · engine failed\nvLLM not found (looked for vllm)',
    )
    const hot = snapshot({ thermal: { paused: true, reason: 'paused: GPU 86 °C (pauses at 83 °C, resumes at 75 °C)' }, gpuTemperatureC: 86 }, { state: 'ready', model: 'qwen3-8b' })
    expect(trayTooltip(hot)).toBe('GPU 86 °C · qwen3-8b\npaused: GPU 86 °C (pauses at 83 °C, resumes at 75 °C)')
    expect(trayTooltip(snapshot({ batchesPaused: true }, { state: 'ready', model: 'qwen3-8b' }))).toBe('GPU 64 °C · qwen3-8b\nbatches paused')
    const waiting = snapshot({ batch: { ...running, waiting: 'waiting for engine: loading qwen3-8b' } }, { state: 'starting', model: 'qwen3-8b' })
    expect(trayTooltip(waiting)).toBe('GPU 64 °C · qwen3-8b loading… · batch 12,340 / 50,000\nwaiting for engine: loading qwen3-8b')
  })

  it('says "batch starting" before the first progress, and stays within what Windows shows', () => {
    expect(trayTooltip(snapshot({ batch: { id: 'b', done: 0, total: 0, waiting: null } }, { state: 'ready', model: 'm' }))).toBe('GPU 64 °C · m · batch starting')
    const long = trayTooltip(snapshot({}, { state: 'failed', lastError: 'x'.repeat(400) }))
    expect(long.length).toBe(TOOLTIP_MAX)
    expect(long.endsWith('…')).toBe(true)
  })
})

describe('status and batch lines', () => {
  it('status: engine and GPU', () => {
    expect(statusLine(snapshot({}, { state: 'ready', model: 'gemma-3-12b' }))).toBe('Ready: gemma-3-12b (vLLM) · GPU 64 °C')
    expect(statusLine(snapshot({ gpuTemperatureC: null }, { state: 'starting', model: 'gemma-3-12b', phase: 'loading weights' }))).toBe(
      'Loading gemma-3-12b (vLLM, loading weights)',
    )
    expect(statusLine(snapshot({ gpuTemperatureC: null }, { kind: 'llama.cpp', state: 'ready', model: 'qwen' }))).toBe('Ready: qwen (llama.cpp)')
    expect(statusLine(snapshot({ gpuTemperatureC: null }))).toBe('Engine stopped')
    expect(statusLine(snapshot({ gpuTemperatureC: null }, { state: 'failed', lastError: 'vLLM not found: install it' }))).toBe(
      'Engine failed: vLLM not found: install it',
    )
  })

  it('batch: whole percent, so the menu changes at most a hundred times a batch', () => {
    expect(batchLine(snapshot({ batch: running }))).toBe('Batch 24% of 50,000')
    expect(batchLine(snapshot({ batch: { ...running, done: 12_349 } }))).toBe('Batch 24% of 50,000')
    expect(batchLine(snapshot({ batch: running, batchesPaused: true }))).toBe('Batch 24% of 50,000 (paused)')
    expect(batchLine(snapshot({ batch: { ...running, waiting: 'waiting for engine: loading x' } }))).toBe('Batch 24% of 50,000: waiting for engine: loading x')
    expect(batchLine(snapshot({ batchesPaused: true }))).toBe('Batches paused')
    expect(batchLine(snapshot({ thermal: { paused: true, reason: 'paused: GPU 86 °C' } }))).toBe('Paused: GPU 86 °C')
    expect(batchLine(snapshot())).toBeNull()
  })
})

describe('trayMenuTemplate', () => {
  it('lists, top to bottom: status, engine, models, batches, dashboard and copies, start at login, quit', () => {
    const items = trayMenuTemplate(snapshot({ batch: running }, { state: 'ready', model: 'gemma-3-12b' }), actions())
    const ids = items.map((i) => (i.kind === 'separator' ? '-' : i.id))
    expect(ids).toEqual([
      'status',
      'batch',
      '-',
      'stop-engine',
      'models',
      'pause-batches',
      '-',
      'open-dashboard',
      'copy-api-url',
      'copy-api-key',
      'copy-dashboard-link',
      '-',
      'start-at-login',
      '-',
      'quit',
    ])
    expect(get(items, 'status', 'label').label).toBe('Ready: gemma-3-12b (vLLM) · GPU 64 °C')
  })

  it('offers Start engine (with the default model) when stopped or failed, Stop engine when up', () => {
    const a = actions()
    const stopped = trayMenuTemplate(snapshot(), a)
    const start = get(stopped, 'start-engine', 'action')
    expect(start.label).toBe('Start engine (gemma-3-12b)')
    expect(start.enabled).toBe(true)
    expect(find(stopped, 'stop-engine')).toBeUndefined()
    start.click()
    expect(a.startEngine).toHaveBeenCalledOnce()

    expect(get(trayMenuTemplate(snapshot({}, { state: 'failed', lastError: 'x' }), a), 'start-engine', 'action').enabled).toBe(true)
    expect(get(trayMenuTemplate(snapshot({}, { state: 'stopping', model: 'x' }), a), 'start-engine', 'action').enabled).toBe(false)
    expect(get(trayMenuTemplate(snapshot({ defaultModel: null, models: [] }), a), 'start-engine', 'action')).toMatchObject({ label: 'Start engine', enabled: false })

    for (const state of ['ready', 'starting'] as const) {
      const stop = get(trayMenuTemplate(snapshot({}, { state, model: 'qwen3-8b' }), a), 'stop-engine', 'action')
      expect(stop.enabled).toBe(true)
      stop.click()
    }
    expect(a.stopEngine).toHaveBeenCalledTimes(2)
  })

  it('cannot stop the engine or switch models while a batch holds it', () => {
    const items = trayMenuTemplate(snapshot({ batch: running }, { state: 'ready', model: 'gemma-3-12b', leasedBy: 'batch batch_abc' }), actions())
    expect(get(items, 'stop-engine', 'action').enabled).toBe(false)
    for (const id of ['gemma-3-12b', 'qwen3-8b', 'llama-3.1-8b']) expect(get(items, `model:${id}`, 'radio').enabled).toBe(false)
  })

  it('lists every model as a radio item, the loaded one checked', () => {
    const a = actions()
    const items = trayMenuTemplate(snapshot({}, { state: 'ready', model: 'qwen3-8b' }), a)
    const models = get(items, 'models', 'submenu')
    expect(models.label).toBe('Model')
    expect(models.items.map((i) => (i.kind === 'radio' ? [i.label, i.checked, i.enabled] : i.kind))).toEqual([
      ['gemma-3-12b', false, true],
      ['qwen3-8b', true, true],
      ['llama-3.1-8b', false, true],
    ])
    get(items, 'model:llama-3.1-8b', 'radio').click()
    expect(a.loadModel).toHaveBeenCalledWith('llama-3.1-8b')
  })

  it('names the engine of each model in the model menu', () => {
    const s = snapshot({ kinds: { 'gemma-3-12b': 'vllm', 'qwen3-8b': 'llama.cpp', 'llama-3.1-8b': 'remote' } }, { state: 'ready', model: 'qwen3-8b', kind: 'llama.cpp' })
    const menu = get(trayMenuTemplate(s, actions()), 'models', 'submenu')
    expect(menu.items.map((i) => (i.kind === 'radio' ? i.label : null))).toEqual(['gemma-3-12b · vLLM', 'qwen3-8b · llama.cpp', 'llama-3.1-8b · remote'])
  })

  it('shows a model download with its progress in the tooltip and the status line', () => {
    const MB = 1024 * 1024
    const s = snapshot({}, { kind: 'llama.cpp', state: 'starting', model: 'qwen', phase: 'downloading model', download: { receivedBytes: 123 * MB, totalBytes: 491 * MB, etaSeconds: 200 } })
    expect(trayTooltip(s)).toBe('GPU 64 °C · qwen downloading 25% of 491 MB, 3 min left')
    expect(statusLine({ ...s, gpuTemperatureC: null })).toBe('Downloading qwen: 25% of 491 MB, 3 min left')
    const unknown = snapshot({ gpuTemperatureC: null }, { state: 'starting', model: 'qwen', download: { receivedBytes: 40 * MB, totalBytes: null, etaSeconds: null } })
    expect(trayTooltip(unknown)).toBe('qwen downloading 40 MB')
  })

  it('marks a model that is loading (checked) or failed (not checked); none checked when stopped', () => {
    const loading = get(trayMenuTemplate(snapshot({}, { state: 'starting', model: 'gemma-3-12b' }), actions()), 'models', 'submenu')
    expect(loading.items.map((i) => (i.kind === 'radio' ? [i.label, i.checked] : null))).toEqual([
      ['gemma-3-12b (loading…)', true],
      ['qwen3-8b', false],
      ['llama-3.1-8b', false],
    ])
    const failed = get(trayMenuTemplate(snapshot({}, { state: 'failed', model: 'qwen3-8b', lastError: 'x' }), actions()), 'models', 'submenu')
    expect(failed.items.map((i) => (i.kind === 'radio' ? [i.label, i.checked] : null))[1]).toEqual(['qwen3-8b (failed)', false])
    const stopped = get(trayMenuTemplate(snapshot(), actions()), 'models', 'submenu')
    expect(stopped.items.every((i) => i.kind === 'radio' && !i.checked)).toBe(true)
  })

  it('marks the models asleep in the warm pool, and a model waking (checked) as on its way', () => {
    const asleep = get(trayMenuTemplate(snapshot({ asleep: ['gemma-3-12b', 'llama-3.1-8b'] }, { state: 'ready', model: 'qwen3-8b' }), actions()), 'models', 'submenu')
    expect(asleep.items.map((i) => (i.kind === 'radio' ? [i.label, i.checked, i.enabled] : null))).toEqual([
      ['gemma-3-12b (asleep)', false, true],
      ['qwen3-8b', true, true],
      ['llama-3.1-8b (asleep)', false, true],
    ])
    const waking = snapshot({ asleep: ['qwen3-8b'], kinds: { 'gemma-3-12b': 'vllm' } }, { state: 'waking', model: 'gemma-3-12b', phase: 'loading weights' })
    const menu = trayMenuTemplate(waking, actions())
    expect(get(menu, 'models', 'submenu').items.map((i) => (i.kind === 'radio' ? [i.label, i.checked] : null))).toEqual([
      ['gemma-3-12b · vLLM (waking…)', true],
      ['qwen3-8b (asleep)', false],
      ['llama-3.1-8b', false],
    ])
    expect(trayState(waking)).toBe('loading')
    expect(statusLine(waking)).toBe('Waking gemma-3-12b (vLLM) · GPU 64 °C')
    expect(trayTooltip(waking)).toBe('GPU 64 °C · gemma-3-12b waking…')
    get(menu, 'stop-engine', 'action')
    // The menu is rebuilt when a model falls asleep or wakes.
    expect(menuSignature(trayMenuTemplate(snapshot({ asleep: ['qwen3-8b'] }), actions()))).not.toBe(menuSignature(trayMenuTemplate(snapshot(), actions())))
  })

  it('says so when models.yaml lists no model', () => {
    const models = get(trayMenuTemplate(snapshot({ models: [], defaultModel: null }), actions()), 'models', 'submenu')
    expect(models.items).toEqual([{ kind: 'label', id: 'no-models', label: 'No models in models.yaml' }])
  })

  it('toggles Pause batches / Resume batches', () => {
    const a = actions()
    const pause = get(trayMenuTemplate(snapshot(), a), 'pause-batches', 'action')
    pause.click()
    expect(a.pauseBatches).toHaveBeenCalledOnce()
    const paused = trayMenuTemplate(snapshot({ batchesPaused: true }), a)
    expect(find(paused, 'pause-batches')).toBeUndefined()
    get(paused, 'resume-batches', 'action').click()
    expect(a.resumeBatches).toHaveBeenCalledOnce()
  })

  it('wires the dashboard, copy and quit items to their actions', () => {
    const a = actions()
    const items = trayMenuTemplate(snapshot(), a)
    const wiring: [string, keyof TrayActions][] = [
      ['open-dashboard', 'openDashboard'],
      ['copy-api-url', 'copyApiUrl'],
      ['copy-api-key', 'copyApiKey'],
      ['copy-dashboard-link', 'copyDashboardLink'],
      ['quit', 'quit'],
    ]
    for (const [id, action] of wiring) {
      get(items, id, 'action').click()
      expect(a[action], id).toHaveBeenCalledOnce()
    }
    const others = Object.entries(a).filter(([name]) => !wiring.some(([, action]) => action === name))
    for (const [name, fn] of others) expect(fn, name).not.toHaveBeenCalled()
  })

  it('Start at login is a checkbox that asks for the opposite of its state', () => {
    const a = actions()
    const on = get(trayMenuTemplate(snapshot({ startAtLogin: true }), a), 'start-at-login', 'checkbox')
    expect(on).toMatchObject({ label: 'Start at login', checked: true, enabled: true })
    on.click()
    expect(a.setStartAtLogin).toHaveBeenLastCalledWith(false)
    const off = get(trayMenuTemplate(snapshot({ startAtLogin: false }), a), 'start-at-login', 'checkbox')
    expect(off.checked).toBe(false)
    off.click()
    expect(a.setStartAtLogin).toHaveBeenLastCalledWith(true)
  })

  it('Start at login is disabled, and says why, when the environment fixes it', () => {
    const item = get(trayMenuTemplate(snapshot({ startAtLoginLockedBy: 'VBS_START_AT_LOGIN' }), actions()), 'start-at-login', 'checkbox')
    expect(item).toMatchObject({ label: 'Start at login (set by VBS_START_AT_LOGIN)', enabled: false })
  })
})

describe('menuSignature and menuLabel', () => {
  it('changes with what the menu shows, not with anything else', () => {
    const s = snapshot({ batch: running }, { state: 'ready', model: 'gemma-3-12b' })
    const sig = menuSignature(trayMenuTemplate(s, actions()))
    expect(menuSignature(trayMenuTemplate(s, actions()))).toBe(sig)
    // 12,340 -> 12,399 of 50,000 is still 24%: the same menu.
    expect(menuSignature(trayMenuTemplate({ ...s, batch: { ...running, done: 12_399 } }, actions()))).toBe(sig)
    expect(menuSignature(trayMenuTemplate({ ...s, batch: { ...running, done: 12_500 } }, actions()))).not.toBe(sig)
    expect(menuSignature(trayMenuTemplate({ ...s, startAtLogin: false }, actions()))).not.toBe(sig)
    expect(menuSignature(trayMenuTemplate({ ...s, engine: { ...s.engine, state: 'starting' } }, actions()))).not.toBe(sig)
  })

  it('while stopping after Quit, the menu only says so', () => {
    const items = stoppingMenuTemplate()
    expect(items).toEqual([{ kind: 'label', id: 'stopping', label: expect.stringMatching(/^Stopping/) }])
    expect(menuSignature(items)).not.toBe(menuSignature(trayMenuTemplate(snapshot(), actions())))
  })

  it("doubles '&' where Electron reads it as a mnemonic", () => {
    expect(menuLabel('R&D model', 'linux')).toBe('R&&D model')
    expect(menuLabel('R&D model', 'win32')).toBe('R&&D model')
    expect(menuLabel('R&D model', 'darwin')).toBe('R&D model')
  })
})

describe('traySnapshot', () => {
  function source(over: Partial<TraySource> = {}): TraySource {
    return {
      engine: {
        status: () => ({
          kind: 'vllm',
          state: 'ready',
          model: 'gemma-3-12b',
          phase: null,
          lastError: null,
          inFlight: 1,
          leasedBy: 'batch batch_abc',
          download: null,
          pool: [
            { model: 'gemma-3-12b', state: 'ready' },
            { model: 'qwen3-8b', state: 'sleeping' },
          ],
        }),
        defaultModel: () => 'qwen3-8b',
      },
      models: { models: [{ id: 'gemma-3-12b', engine: 'vllm' }, { id: 'qwen3-8b', engine: 'llama.cpp' }] },
      scheduler: {
        paused: false,
        runningBatch: 'batch_abc',
        progressOf: (id) => (id === 'batch_abc' ? { completed: 12_000, failed: 340, total: 50_000, hold: null } : null),
        scheduleState: () => ({ hold: null, run_now: false }),
      },
      thermal: { paused: false, reason: null },
      gpu: { current: () => ({ temperatureC: 64, at: 1_000_000 }) },
      settings: { startAtLogin: true },
      lockedSettings: () => ({}),
      ...over,
    }
  }

  it('reads engine, models, the running batch (completed + failed), thermal, GPU and start at login', () => {
    expect(traySnapshot(source(), 1_000_500)).toEqual({
      engine: { kind: 'vllm', state: 'ready', model: 'gemma-3-12b', phase: null, lastError: null, inFlight: 1, leasedBy: 'batch batch_abc', download: null },
      models: ['gemma-3-12b', 'qwen3-8b'],
      asleep: ['qwen3-8b'],
      kinds: { 'gemma-3-12b': 'vllm', 'qwen3-8b': 'llama.cpp' },
      defaultModel: 'qwen3-8b',
      batch: { id: 'batch_abc', done: 12_340, total: 50_000, waiting: null },
      batchesPaused: false,
      schedule: { held: null, runNow: false },
      thermal: { paused: false, reason: null },
      gpuTemperatureC: 64,
      startAtLogin: true,
      startAtLoginLockedBy: null,
    })
  })

  it('has no batch when none runs, and a batch with no counts before its first progress', () => {
    const idle = source({ scheduler: { paused: true, runningBatch: null, progressOf: () => null, scheduleState: () => ({ hold: null, run_now: false }) } })
    expect(traySnapshot(idle, 1_000_000)).toMatchObject({ batch: null, batchesPaused: true })
    const fresh = source({ scheduler: { paused: false, runningBatch: 'batch_new', progressOf: () => null, scheduleState: () => ({ hold: null, run_now: false }) } })
    expect(traySnapshot(fresh, 1_000_000).batch).toEqual({ id: 'batch_new', done: 0, total: 0, waiting: null })
  })

  it('drops a stale or missing GPU reading, and names the variable that locks start at login', () => {
    expect(traySnapshot(source(), 1_000_000 + GPU_SAMPLE_STALE_MS + 1).gpuTemperatureC).toBeNull()
    expect(traySnapshot(source({ gpu: { current: () => null } }), 1_000_000).gpuTemperatureC).toBeNull()
    const locked = source({ lockedSettings: () => ({ startAtLogin: 'VBS_START_AT_LOGIN' }) })
    expect(traySnapshot(locked, 1_000_000).startAtLoginLockedBy).toBe('VBS_START_AT_LOGIN')
  })
})

describe('batch hours in the tray', () => {
  const HELD = 'held: batches run 22:00-07:00 (VBS_BATCH_HOURS); this job starts today at 22:00'

  it('offers "Run now anyway" while the batch hours hold batches, and says why on the batch line', () => {
    const a = actions()
    const items = trayMenuTemplate(snapshot({ schedule: { held: HELD, runNow: false } }), a)
    const run = get(items, 'run-now', 'action')
    expect(run).toMatchObject({ label: 'Run now anyway', enabled: true })
    run.click()
    expect(a.runNow).toHaveBeenCalledTimes(1)
    expect(find(items, 'follow-schedule')).toBeUndefined()
    expect(get(items, 'batch', 'label').label).toBe('Held: batches run 22:00-07:00 (VBS_BATCH_HOURS); this job starts today at 22:00')
  })

  it('offers the way back once "Run now anyway" is on, and nothing while the schedule lets batches run', () => {
    const a = actions()
    const on = trayMenuTemplate(snapshot({ schedule: { held: null, runNow: true } }), a)
    get(on, 'follow-schedule', 'action').click()
    expect(a.followSchedule).toHaveBeenCalledTimes(1)
    expect(find(on, 'run-now')).toBeUndefined()
    const open = trayMenuTemplate(snapshot(), a)
    expect(find(open, 'run-now')).toBeUndefined()
    expect(find(open, 'follow-schedule')).toBeUndefined()
  })

  it('reads the schedule off the service', () => {
    const s = traySnapshot({
      engine: { status: () => ({ ...snapshot().engine, pool: [] }), defaultModel: () => null },
      models: { models: [] },
      scheduler: { paused: false, runningBatch: null, progressOf: () => null, scheduleState: () => ({ hold: { detail: HELD }, run_now: false }) },
      thermal: { paused: false, reason: null },
      gpu: { current: () => null },
      settings: { startAtLogin: false },
      lockedSettings: () => ({}),
    })
    expect(s.schedule).toEqual({ held: HELD, runNow: false })
  })
})
