// The tray's picture, tooltip and menu as pure functions of a snapshot of the service. No Electron here (tray.ts
// maps the result onto Electron's Tray and Menu), so every decision is unit-tested under plain Node.
import type { EngineKind, EngineState } from '../engine/engine-types'

/** What the tray shows; one icon each in resources/tray/. */
export type TrayState = 'idle' | 'loading' | 'busy' | 'hot' | 'error'

export const TRAY_STATES: readonly TrayState[] = ['idle', 'loading', 'busy', 'hot', 'error']

/** Everything the tray needs to know about the service at one moment. */
export interface TraySnapshot {
  engine: {
    /** Which kind of engine runs the model (vLLM, llama.cpp, remote). */
    kind: EngineKind
    state: EngineState
    /** The model running, loading or last failed. */
    model: string | null
    /** The loading phase while starting (e.g. 'loading weights'). */
    phase: string | null
    lastError: string | null
    /** Real-time requests being served right now. */
    inFlight: number
    /** Who holds the engine on its model (a running batch), or null. */
    leasedBy: string | null
    /** The model file being downloaded before the start, or null. */
    download: { receivedBytes: number; totalBytes: number | null; etaSeconds: number | null } | null
  }
  models: readonly string[]
  /** Models asleep in the warm pool: switching to one wakes it in seconds. */
  asleep: readonly string[]
  /** The engine kind of each model id. */
  kinds: Readonly<Record<string, EngineKind>>
  defaultModel: string | null
  /** The batch the scheduler is running, with its progress if it has any yet. */
  batch: { id: string; done: number; total: number; waiting: string | null } | null
  /** Paused from the tray or the API ("Pause batches"). */
  batchesPaused: boolean
  /**
   * The batch hours and idle-only: `held` says why batches wait (outside the hours, desktop in use), null while
   * they may run; `runNow` while "Run now anyway" overrides them.
   */
  schedule: { held: string | null; runNow: boolean }
  thermal: { paused: boolean; reason: string | null }
  /** Latest GPU temperature in °C, or null without readings. */
  gpuTemperatureC: number | null
  startAtLogin: boolean
  /** The environment variable that fixes start at login (the tray cannot change it), or null. */
  startAtLoginLockedBy: string | null
}

/** What the menu's items do; tray.ts binds them to the service, the window and Electron. */
export interface TrayActions {
  startEngine(): void
  stopEngine(): void
  loadModel(id: string): void
  pauseBatches(): void
  resumeBatches(): void
  /** "Run now anyway": batches run until the batch hours next open. */
  runNow(): void
  /** Back to the batch hours. */
  followSchedule(): void
  openDashboard(): void
  copyApiUrl(): void
  copyApiKey(): void
  copyDashboardLink(): void
  setStartAtLogin(enabled: boolean): void
  quit(): void
}

/** A menu as plain data: tray.ts turns it into Electron's MenuItemConstructorOptions. */
export type TrayMenuItem =
  | { kind: 'label'; id: string; label: string }
  | { kind: 'separator' }
  | { kind: 'action'; id: string; label: string; enabled: boolean; click: () => void }
  | { kind: 'checkbox'; id: string; label: string; checked: boolean; enabled: boolean; click: () => void }
  | { kind: 'radio'; id: string; label: string; checked: boolean; enabled: boolean; click: () => void }
  | { kind: 'submenu'; id: string; label: string; enabled: boolean; items: TrayMenuItem[] }

const TRANSITIONAL: readonly EngineState[] = ['starting', 'waking', 'stopping']

/**
 * The icon. A failed engine wins (nothing runs until someone acts), then a thermal pause, then an engine on its
 * way up or down, then work in hand (a batch running, real-time requests in flight); otherwise idle.
 */
export function trayState(s: TraySnapshot): TrayState {
  if (s.engine.state === 'failed') return 'error'
  if (s.thermal.paused) return 'hot'
  if (TRANSITIONAL.includes(s.engine.state)) return 'loading'
  if ((s.batch && !s.batch.waiting && !s.batchesPaused) || s.engine.inFlight > 0) return 'busy'
  return 'idle'
}

const count = (n: number): string => Math.round(n).toLocaleString('en-US')

/** "gemma-3-12b", "gemma-3-12b loading…", "engine stopped", ... */
function engineText(s: TraySnapshot): string {
  const { state, model } = s.engine
  switch (state) {
    case 'ready':
      return model ?? 'engine ready'
    case 'starting':
      if (s.engine.download) return `${model ?? 'model'} downloading ${downloadText(s.engine.download)}`
      return model ? `${model} loading…` : 'engine loading…'
    case 'waking':
      return model ? `${model} waking…` : 'engine waking…'
    case 'sleeping':
      return model ? `${model} asleep` : 'engine asleep'
    case 'stopping':
      return model ? `${model} stopping…` : 'engine stopping…'
    case 'failed':
      return 'engine failed'
    case 'stopped':
      return 'engine stopped'
  }
}

/** How engines are named to people. */
export const KIND_LABEL: Record<EngineKind, string> = { vllm: 'vLLM', 'llama.cpp': 'llama.cpp', remote: 'remote' }

const MB = 1024 * 1024

/** "42% of 491 MB, 3 min left", or "120 MB" while the size is unknown. */
function downloadText(d: NonNullable<TraySnapshot['engine']['download']>): string {
  if (d.totalBytes === null || d.totalBytes <= 0) return `${count(d.receivedBytes / MB)} MB`
  const pct = Math.floor((100 * d.receivedBytes) / d.totalBytes)
  const eta = d.etaSeconds === null ? '' : d.etaSeconds < 90 ? `, ${Math.max(1, Math.round(d.etaSeconds))} s left` : `, ${Math.round(d.etaSeconds / 60)} min left`
  return `${pct}% of ${count(d.totalBytes / MB)} MB${eta}`
}

function batchText(s: TraySnapshot): string | null {
  if (!s.batch) return null
  return s.batch.total > 0 ? `batch ${count(s.batch.done)} / ${count(s.batch.total)}` : 'batch starting'
}

/** Windows shows at most 127 characters of a tray tooltip; longer text is cut there with an ellipsis. */
export const TOOLTIP_MAX = 127

/**
 * The tooltip, e.g. "GPU 64 °C · gemma-3-12b · batch 12,340 / 50,000", with a second line saying why nothing
 * runs (engine error, thermal pause, batches paused) when that is the case.
 */
export function trayTooltip(s: TraySnapshot): string {
  const parts = [
    ...(s.gpuTemperatureC !== null ? [`GPU ${Math.round(s.gpuTemperatureC)} °C`] : []),
    engineText(s),
    ...(batchText(s) ? [batchText(s) as string] : []),
  ]
  const why = problem(s)
  const text = [parts.join(' · '), ...(why ? [why] : [])].join('\n')
  return text.length <= TOOLTIP_MAX ? text : `${text.slice(0, TOOLTIP_MAX - 1)}…`
}

/** The reason nothing (or less) is happening, if any. */
function problem(s: TraySnapshot): string | null {
  if (s.engine.state === 'failed') return firstLine(s.engine.lastError) ?? 'the engine failed'
  if (s.thermal.paused) return s.thermal.reason ?? 'batches paused: GPU too hot'
  if (s.batchesPaused) return 'batches paused'
  if (s.batch?.waiting) return s.batch.waiting
  return null
}

const firstLine = (text: string | null): string | null => (text ? text.split('\n')[0].trim() || null : null)

/** The menu's first (disabled) line: the engine and the GPU. */
export function statusLine(s: TraySnapshot): string {
  const engine = (() => {
    switch (s.engine.state) {
      case 'ready':
        return `Ready: ${s.engine.model ?? 'engine'} (${KIND_LABEL[s.engine.kind]})`
      case 'starting':
        if (s.engine.download) return `Downloading ${s.engine.model ?? 'the model'}: ${downloadText(s.engine.download)}`
        return `Loading ${s.engine.model ?? 'engine'} (${KIND_LABEL[s.engine.kind]}${s.engine.phase ? `, ${s.engine.phase}` : ''})`
      case 'waking':
        return `Waking ${s.engine.model ?? 'engine'} (${KIND_LABEL[s.engine.kind]})`
      case 'sleeping':
        return `Asleep: ${s.engine.model ?? 'engine'}`
      case 'stopping':
        return `Stopping ${s.engine.model ?? 'engine'}`
      case 'failed':
        return `Engine failed: ${truncate(firstLine(s.engine.lastError) ?? 'see the dashboard', 70)}`
      case 'stopped':
        return 'Engine stopped'
    }
  })()
  return s.gpuTemperatureC !== null ? `${engine} · GPU ${Math.round(s.gpuTemperatureC)} °C` : engine
}

/**
 * The batch line under the status line, in whole percent: a menu is rebuilt only when its text changes, and a
 * rebuild of an open menu can make it flicker (or close) on Linux.
 */
export function batchLine(s: TraySnapshot): string | null {
  if (s.thermal.paused) return truncate(capitalize(s.thermal.reason ?? 'batches paused: GPU too hot'), 80)
  if (!s.batch) {
    if (s.batchesPaused) return 'Batches paused'
    return s.schedule.held ? truncate(capitalize(s.schedule.held), 80) : null
  }
  const pct = s.batch.total > 0 ? Math.floor((100 * s.batch.done) / s.batch.total) : 0
  const head = s.batch.total > 0 ? `Batch ${pct}% of ${count(s.batch.total)}` : 'Batch starting'
  if (s.batchesPaused) return `${head} (paused)`
  return s.batch.waiting ? truncate(`${head}: ${s.batch.waiting}`, 80) : head
}

const capitalize = (t: string): string => t.charAt(0).toUpperCase() + t.slice(1)
const truncate = (t: string, n: number): string => (t.length <= n ? t : `${t.slice(0, n - 1)}…`)

/** A model's line in the Model submenu. */
function modelLabel(s: TraySnapshot, id: string): string {
  const kind = s.kinds[id]
  const name = kind ? `${id} · ${KIND_LABEL[kind]}` : id
  const asleep = s.asleep.includes(id) ? `${name} (asleep)` : name
  if (s.engine.model !== id) return asleep
  if (s.engine.state === 'starting') return `${name} (loading…)`
  if (s.engine.state === 'waking') return `${name} (waking…)`
  if (s.engine.state === 'sleeping') return asleep
  if (s.engine.state === 'stopping') return `${name} (stopping…)`
  if (s.engine.state === 'failed') return `${name} (failed)`
  return name
}

/** The tray menu, top to bottom. */
export function trayMenuTemplate(s: TraySnapshot, a: TrayActions): TrayMenuItem[] {
  const engineUp = s.engine.state === 'ready' || s.engine.state === 'starting' || s.engine.state === 'waking'
  const held = s.engine.leasedBy !== null
  const items: TrayMenuItem[] = [{ kind: 'label', id: 'status', label: statusLine(s) }]
  const batch = batchLine(s)
  if (batch) items.push({ kind: 'label', id: 'batch', label: batch })
  items.push({ kind: 'separator' })

  if (engineUp) {
    items.push({ kind: 'action', id: 'stop-engine', label: 'Stop engine', enabled: !held, click: () => a.stopEngine() })
  } else {
    const label = s.defaultModel ? `Start engine (${s.defaultModel})` : 'Start engine'
    const enabled = s.engine.state !== 'stopping' && s.defaultModel !== null
    items.push({ kind: 'action', id: 'start-engine', label, enabled, click: () => a.startEngine() })
  }
  const models: TrayMenuItem[] =
    s.models.length === 0
      ? [{ kind: 'label', id: 'no-models', label: 'No models in models.yaml' }]
      : s.models.map((id) => ({
          kind: 'radio' as const,
          id: `model:${id}`,
          label: modelLabel(s, id),
          checked: s.engine.model === id && (s.engine.state === 'ready' || s.engine.state === 'starting' || s.engine.state === 'waking'),
          // While a batch holds the engine on its model, switching would be refused: say so by disabling.
          enabled: !held && s.engine.state !== 'stopping',
          click: () => a.loadModel(id),
        }))
  items.push({ kind: 'submenu', id: 'models', label: 'Model', enabled: true, items: models })
  items.push(
    s.batchesPaused
      ? { kind: 'action', id: 'resume-batches', label: 'Resume batches', enabled: true, click: () => a.resumeBatches() }
      : { kind: 'action', id: 'pause-batches', label: 'Pause batches', enabled: true, click: () => a.pauseBatches() },
  )
  // Offered while the batch hours (or idle-only) hold batches, and, once taken, the way back.
  if (s.schedule.runNow) {
    items.push({ kind: 'action', id: 'follow-schedule', label: 'Back to batch hours', enabled: true, click: () => a.followSchedule() })
  } else if (s.schedule.held) {
    items.push({ kind: 'action', id: 'run-now', label: 'Run now anyway', enabled: !s.batchesPaused, click: () => a.runNow() })
  }
  items.push(
    { kind: 'separator' },
    { kind: 'action', id: 'open-dashboard', label: 'Open dashboard', enabled: true, click: () => a.openDashboard() },
    { kind: 'action', id: 'copy-api-url', label: 'Copy API URL', enabled: true, click: () => a.copyApiUrl() },
    { kind: 'action', id: 'copy-api-key', label: 'Copy API key', enabled: true, click: () => a.copyApiKey() },
    { kind: 'action', id: 'copy-dashboard-link', label: 'Copy dashboard link', enabled: true, click: () => a.copyDashboardLink() },
    { kind: 'separator' },
    {
      kind: 'checkbox',
      id: 'start-at-login',
      label: s.startAtLoginLockedBy ? `Start at login (set by ${s.startAtLoginLockedBy})` : 'Start at login',
      checked: s.startAtLogin,
      enabled: s.startAtLoginLockedBy === null,
      click: () => a.setStartAtLogin(!s.startAtLogin),
    },
    { kind: 'separator' },
    { kind: 'action', id: 'quit', label: 'Quit', enabled: true, click: () => a.quit() },
  )
  return items
}

/** The whole menu while the service stops after Quit (up to the engine's stop grace): nothing left to ask. */
export function stoppingMenuTemplate(): TrayMenuItem[] {
  return [{ kind: 'label', id: 'stopping', label: 'Stopping: finishing work in hand and stopping the engine…' }]
}

/**
 * What a menu shows, as a string: equal signatures mean an identical menu, so tray.ts can skip rebuilding it
 * (on Linux a rebuild replaces the whole menu, even one the user has open).
 */
export function menuSignature(items: readonly TrayMenuItem[]): string {
  const plain = (item: TrayMenuItem): unknown => {
    switch (item.kind) {
      case 'separator':
        return '-'
      case 'label':
        return [item.id, item.label]
      case 'action':
        return [item.id, item.label, item.enabled]
      case 'checkbox':
      case 'radio':
        return [item.id, item.label, item.enabled, item.checked]
      case 'submenu':
        return [item.id, item.label, item.enabled, item.items.map(plain)]
    }
  }
  return JSON.stringify(items.map(plain))
}

/**
 * A label as Electron's menus take it: on Windows and Linux '&' marks a keyboard mnemonic, so a literal one is
 * written '&&'; macOS shows labels as they are.
 */
export function menuLabel(text: string, platform: NodeJS.Platform): string {
  return platform === 'darwin' ? text : text.replaceAll('&', '&&')
}
