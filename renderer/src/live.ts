/**
 * Keeps the stores current: a full read at start, the event stream for changes, and `GET /health` every few
 * seconds as the fallback (and a full read while the stream is down, or after it comes back).
 */
import * as api from './api/event-stream'
import { useCompareStore } from './store/compare'
import { useComparisonsStore } from './store/comparisons'
import { useConnectionStore } from './store/connection'
import { useEngineStore } from './store/engine'
import { useGpuStore } from './store/gpu'
import { useJobViewStore } from './store/job-view'
import { useQueueStore } from './store/queue'
import { useSettingsStore } from './store/settings'
import { useWebhooksStore } from './store/webhooks'
import type { EventMap, EventName } from './types'

export const HEALTH_POLL_MS = 5_000

/** Reads everything the page shows. */
export async function refreshAll(): Promise<void> {
  await Promise.allSettled([
    useEngineStore.getState().refresh(),
    useEngineStore.getState().refreshModels(),
    useGpuStore.getState().refresh(),
    useQueueStore.getState().refresh(),
    useSettingsStore.getState().refresh(),
    ...(useJobViewStore.getState().batchId ? [useJobViewStore.getState().refresh()] : []),
    ...(useCompareStore.getState().comparisonId ? [useCompareStore.getState().refresh()] : []),
  ])
}

/**
 * A batch moved on: the Job view and the comparison that show it read their visible page again (throttled:
 * results commit many times a second, the page is read at most once a second).
 */
function batchMoved(id: string): void {
  if (useJobViewStore.getState().batchId === id) useJobViewStore.getState().liveUpdate()
  if (useCompareStore.getState().shows(id)) useCompareStore.getState().liveUpdate()
}

/** Applies one event from `GET /api/events` to the stores. */
export function applyEvent<K extends EventName>(name: K, data: EventMap[K]): void
export function applyEvent(name: string, data: unknown): void
export function applyEvent(name: string, data: unknown): void {
  switch (name) {
    case 'hello': {
      const d = data as EventMap['hello']
      useConnectionStore.getState().setHealth(d.health)
      useEngineStore.getState().applyStatus(d.engine)
      if (d.gpu) useGpuStore.getState().addSample(d.gpu)
      return
    }
    case 'batch.status': {
      const d = data as EventMap['batch.status']
      useQueueStore.getState().upsertBatch(d.batch)
      void useQueueStore.getState().refreshJob(d.batch.id) // why it waits, and whether it runs, change too
      useJobViewStore.getState().applyBatch(d.batch)
      batchMoved(d.batch.id)
      if (d.batch.metadata?.comparison_id && useComparisonsStore.getState().loaded) void useComparisonsStore.getState().refresh()
      return
    }
    case 'webhook.delivery':
      // A delivery gave up, or a dead one went out again: the dead letters are read again where they are shown.
      if (useWebhooksStore.getState().loaded) void useWebhooksStore.getState().refresh()
      return
    case 'batch.progress': {
      const d = data as EventMap['batch.progress']
      useQueueStore.getState().applyProgress(d.id, d.progress)
      // A job held by the batch hours while the schedule shows open (or running while it shows closed): the
      // schedule changed (the window opened or closed), so the banner and every place are read again.
      const schedule = useQueueStore.getState().schedule
      const held = d.progress.hold?.kind === 'quiet_hours' || d.progress.hold?.kind === 'not_idle'
      if (schedule && held === schedule.open && (held || d.progress.hold === null)) void useQueueStore.getState().refresh()
      useJobViewStore.getState().applyProgress(d.id, d.progress)
      batchMoved(d.id)
      return
    }
    case 'engine.state': {
      const d = data as EventMap['engine.state']
      useEngineStore.getState().applyStatus(d.status)
      return
    }
    case 'model.download':
      useEngineStore.getState().applyDownload(data as EventMap['model.download'])
      return
    case 'gpu.sample':
      useGpuStore.getState().addSample(data as EventMap['gpu.sample'])
      return
    case 'gpu.status': {
      const d = data as EventMap['gpu.status']
      const was = useGpuStore.getState().status?.available
      useGpuStore.getState().setStatus(d)
      if (d.available && !was) void useGpuStore.getState().refresh() // found again: its name and history
      return
    }
    case 'thermal': {
      const d = data as EventMap['thermal']
      useGpuStore.getState().setThermal(d)
      if (d.changed) void useQueueStore.getState().refresh() // every waiting job says why
      return
    }
    case 'settings.changed':
      void useSettingsStore.getState().refresh()
      void useGpuStore.getState().refresh() // the thermal thresholds
      void useQueueStore.getState().refresh() // the batch hours and the power cap the queue shows
      return
    default:
      // file.created / file.deleted: the dashboard lists no files; batch events cover what it shows.
      return
  }
}

/** Starts keeping the stores current; returns the function that stops it. */
export function startLive(): () => void {
  let stopped = false
  let helloSeen = false
  let streamOpen = false

  void refreshAll()

  const closeStream = api.openEventStream({
    onEvent: (name, data) => {
      if (stopped) return
      if (name === 'hello') {
        // A new stream after a drop: events were missed, so read everything once.
        if (helloSeen) void refreshAll()
        helloSeen = true
      }
      applyEvent(name, data)
    },
    onState: (state) => {
      if (stopped) return
      streamOpen = state.state === 'open'
      useConnectionStore.getState().setStream(state)
    },
  })

  let wasReachable = true
  const poll = async (): Promise<void> => {
    const reachable = await useConnectionStore.getState().checkHealth()
    if (stopped) return
    const health = useConnectionStore.getState().health
    // Without a valid key /health has no limits (a key regenerated elsewhere): the thresholds stay as they were.
    if (health?.limits) useGpuStore.getState().setThresholds(health.limits.thermal_pause_c, health.limits.thermal_resume_c)
    if (reachable && (!wasReachable || !streamOpen)) await refreshAll()
    wasReachable = reachable
  }
  // At start the full read is already under way: only learn whether the service answers.
  void useConnectionStore.getState().checkHealth().then((reachable) => {
    wasReachable = wasReachable && reachable
  })
  const timer = setInterval(() => void poll(), HEALTH_POLL_MS)

  return () => {
    stopped = true
    clearInterval(timer)
    closeStream()
  }
}
