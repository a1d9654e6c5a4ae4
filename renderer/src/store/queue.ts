import { create } from 'zustand'
import * as api from '../api'
import type { BatchErrorEntry, BatchObject, BatchPriority, BatchProgress, DeadLetter, Job, PowerWindow, ScheduleState } from '../types'

export type JobAction = 'cancel' | 'retry' | 'download-output' | 'download-errors' | 'errors' | 'priority'

/** What "Show errors" shows: a failed batch's validation errors, or the dead letters of a batch that ran. */
export type JobErrors =
  | { kind: 'loading' }
  | { kind: 'validation'; rows: BatchErrorEntry[] }
  | { kind: 'requests'; rows: DeadLetter[] }
  | { kind: 'error'; message: string }

interface QueueState {
  jobs: Record<string, Job>
  /** Job ids, newest first. */
  order: string[]
  loaded: boolean
  loadError: string | null
  hasMore: boolean
  /** Paused by the user (Pause all); the thermal pause is the GPU store's. */
  paused: boolean
  pending: Record<string, JobAction | undefined>
  /** The last failed action per job, shown on its row. */
  actionErrors: Record<string, string | undefined>
  /** Open "Show errors" panels. */
  errors: Record<string, JobErrors | undefined>
  /** Pause all / Resume all waiting for the service, and its failure. */
  pausing: boolean
  pauseError: string | null
  /** Batch hours, idle-only, "run now anyway" and the power window; null from services older than them. */
  schedule: ScheduleState | null
  /** "Run now anyway" waiting for the service, and its failure. */
  schedulePending: boolean
  scheduleError: string | null
  refresh: () => Promise<void>
  loadMore: () => Promise<void>
  refreshJob: (id: string) => Promise<void>
  /** A batch object from the OpenAI routes or a `batch.status` event. */
  upsertBatch: (batch: BatchObject) => void
  applyProgress: (id: string, progress: BatchProgress) => void
  cancel: (id: string) => Promise<void>
  retryFailed: (id: string) => Promise<void>
  download: (id: string, which: 'output' | 'errors') => Promise<void>
  toggleErrors: (id: string) => Promise<void>
  setPaused: (paused: boolean) => Promise<void>
  setPriority: (id: string, priority: BatchPriority) => Promise<void>
  setRunNow: (on: boolean) => Promise<void>
}

/** The power cap's window: the running job's (live from its progress), else the schedule's. */
export function selectPowerWindow(s: Pick<QueueState, 'jobs' | 'schedule'>): PowerWindow | null {
  const running = Object.values(s.jobs).find((j) => j.running)
  return running?.progress?.power ?? s.schedule?.power ?? null
}

const message = (err: unknown): string => (err instanceof Error ? err.message : String(err))

const newestFirst = (jobs: Record<string, Job>): string[] =>
  Object.values(jobs)
    .sort((a, b) => b.created_at - a.created_at || (a.id < b.id ? 1 : a.id > b.id ? -1 : 0))
    .map((j) => j.id)

const sameOrder = (a: string[], b: string[]): boolean => a.length === b.length && a.every((id, i) => id === b[i])

/** The batch jobs, kept current from `GET /api/batches` and the `batch.*` events. */
export const useQueueStore = create<QueueState>()((set, get) => {
  // Answers can come back out of order (a refresh started before an event or a later refresh answers after
  // them): every read and every event takes the next number, each job remembers the number of what last wrote
  // it, and an answer never overwrites a job with something older than what it shows.
  let seq = 0
  let stamps: Record<string, number> = {}
  /** The number of the latest list read whose answer was applied. */
  let listStamp = 0

  const putJobs = (list: Job[], stamp: number, replace: boolean): void =>
    set((s) => {
      const jobs: Record<string, Job> = {}
      if (replace) {
        // A job the answer does not list is gone, unless something newer than the read brought it.
        const nextStamps: Record<string, number> = {}
        for (const id of Object.keys(s.jobs)) {
          if ((stamps[id] ?? 0) > stamp) {
            jobs[id] = s.jobs[id]
            nextStamps[id] = stamps[id]
          }
        }
        stamps = nextStamps
      } else {
        Object.assign(jobs, s.jobs)
      }
      for (const j of list) {
        if ((stamps[j.id] ?? 0) > stamp) continue
        // A progress event newer than what the read saw wins (the event stream and the read race).
        const shown = jobs[j.id]?.progress
        const newer = shown && j.progress && shown.updatedAt > j.progress.updatedAt ? { progress: shown, hold: shown.hold } : {}
        jobs[j.id] = { ...j, ...newer }
        stamps[j.id] = stamp
      }
      const order = newestFirst(jobs)
      return { jobs, order: sameOrder(order, s.order) ? s.order : order }
    })

  const act = async (id: string, action: JobAction, run: () => Promise<void>): Promise<void> => {
    set((s) => ({ pending: { ...s.pending, [id]: action }, actionErrors: { ...s.actionErrors, [id]: undefined } }))
    try {
      await run()
    } catch (err) {
      set((s) => ({ actionErrors: { ...s.actionErrors, [id]: message(err) } }))
    } finally {
      set((s) => ({ pending: { ...s.pending, [id]: undefined } }))
    }
  }

  return {
    jobs: {},
    order: [],
    loaded: false,
    loadError: null,
    hasMore: false,
    paused: false,
    pending: {},
    actionErrors: {},
    errors: {},
    pausing: false,
    pauseError: null,
    schedule: null,
    schedulePending: false,
    scheduleError: null,
    refresh: async () => {
      const stamp = ++seq
      try {
        const page = await api.listJobs()
        if (stamp < listStamp) return // a later read already answered
        listStamp = stamp
        // Keep jobs beyond the first page that "Load more" brought in.
        const loadedBeyond = get().order.length > page.data.length
        putJobs(page.data, stamp, !loadedBeyond)
        set({ loaded: true, loadError: null, paused: page.paused, schedule: page.schedule ?? null, hasMore: loadedBeyond ? get().hasMore : page.has_more })
      } catch (err) {
        if (stamp >= listStamp) set({ loadError: message(err) })
      }
    },
    loadMore: async () => {
      const last = get().order.at(-1)
      const stamp = ++seq
      try {
        const page = await api.listJobs(last)
        putJobs(page.data, stamp, false)
        set({ hasMore: page.has_more, loadError: null })
      } catch (err) {
        set({ loadError: message(err) })
      }
    },
    refreshJob: async (id) => {
      const stamp = ++seq
      try {
        const job = await api.getJob(id)
        putJobs([job], stamp, false)
      } catch {
        // The list refresh and the next event bring it back.
      }
    },
    upsertBatch: (batch) => {
      const extra = get().jobs[batch.id] ?? { status_detail: null, hold: null, progress: null, running: false }
      putJobs([{ ...extra, ...batch }], ++seq, false)
    },
    applyProgress: (id, progress) =>
      set((s) => {
        const job = s.jobs[id]
        if (!job) return s
        // The runner reports why it waits with each progress update; the job's hold is that same reason as
        // last stored, so the newer one replaces it (no batch.status event clears it).
        return { jobs: { ...s.jobs, [id]: { ...job, progress, hold: progress.hold } } }
      }),
    cancel: (id) =>
      act(id, 'cancel', async () => {
        get().upsertBatch(await api.cancelBatch(id))
      }),
    retryFailed: (id) =>
      act(id, 'retry', async () => {
        get().upsertBatch(await api.retryFailed(id))
        await get().refreshJob(id) // now carries retried_by
      }),
    download: (id, which) =>
      act(id, which === 'output' ? 'download-output' : 'download-errors', async () => {
        const job = get().jobs[id]
        const fileId = which === 'output' ? job?.output_file_id : job?.error_file_id
        if (!fileId) throw new Error(`This batch has no ${which === 'output' ? 'output' : 'error'} file.`)
        await api.downloadFile(fileId, `${id}_${which === 'output' ? 'output' : 'errors'}.jsonl`)
      }),
    toggleErrors: async (id) => {
      if (get().errors[id]) {
        set((s) => ({ errors: { ...s.errors, [id]: undefined } }))
        return
      }
      const job = get().jobs[id]
      const validation = job?.status === 'failed' ? (job.errors?.data ?? []) : []
      if (validation.length > 0) {
        set((s) => ({ errors: { ...s.errors, [id]: { kind: 'validation', rows: validation } } }))
        return
      }
      set((s) => ({ errors: { ...s.errors, [id]: { kind: 'loading' } } }))
      try {
        const rows = await api.listFailed(id)
        set((s) => ({ errors: { ...s.errors, [id]: { kind: 'requests', rows } } }))
      } catch (err) {
        set((s) => ({ errors: { ...s.errors, [id]: { kind: 'error', message: message(err) } } }))
      }
    },
    setPaused: async (paused) => {
      set({ pausing: true, pauseError: null })
      try {
        const res = paused ? await api.pauseAll() : await api.resumeAll()
        set({ paused: res.paused })
        void get().refresh() // every job's status_detail changes
      } catch (err) {
        set({ pauseError: message(err) })
      } finally {
        set({ pausing: false })
      }
    },
    setPriority: (id, priority) =>
      act(id, 'priority', async () => {
        const stamp = ++seq
        putJobs([await api.setPriority(id, priority)], stamp, false)
        void get().refresh() // the other jobs' places move too
      }),
    setRunNow: async (on) => {
      set({ schedulePending: true, scheduleError: null })
      try {
        set({ schedule: await api.setRunNow(on) })
        void get().refresh() // every held job's hold changes
      } catch (err) {
        set({ scheduleError: message(err) })
      } finally {
        set({ schedulePending: false })
      }
    },
  }
})
