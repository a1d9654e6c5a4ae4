import type { StreamEventMap } from '../main/contract/events'
import type { Job } from '../main/contract/jobs'
import { CliError, EXIT } from './exit-codes'
import type { ApiClient } from './http-client'
import type { Output } from './output'
import { FINAL_STATUSES } from './progress'

/** The job is read again this often while waiting, besides its events (a missed event costs at most this). */
const REFRESH_MS = 15_000
/** Reconnecting the event stream: 1 s doubling to 10 s; a server gone this long ends the wait (exit 3). */
const RECONNECT_MIN_MS = 1_000
const RECONNECT_MAX_MS = 10_000
const GIVE_UP_MS = 120_000

export type WaitResult = { ended: true; job: Job } | { ended: false; job: Job }

export const getJob = (api: ApiClient, id: string): Promise<Job> => api.json<Job>('GET', `/api/batches/${encodeURIComponent(id)}`)

/**
 * Follows a job until it ends, from the event stream (`batch.status`, `batch.progress`), showing its progress.
 * Ctrl-C stops the wait, not the job: the result then says `ended: false`. A server that goes away is
 * reconnected to (a restart takes seconds) for up to two minutes.
 */
export async function waitForJob(api: ApiClient, id: string, out: Output): Promise<WaitResult> {
  let job = await getJob(api, id)
  out.job(job)
  if (FINAL_STATUSES.includes(job.status)) return { ended: true, job }

  const interrupted = new AbortController()
  const onSigint = (): void => interrupted.abort()
  process.once('SIGINT', onSigint)
  let downSince: number | null = null
  let delay = RECONNECT_MIN_MS
  try {
    for (;;) {
      const stream = new AbortController()
      const stop = (): void => stream.abort()
      interrupted.signal.addEventListener('abort', stop)
      let finished = false
      let failure: unknown = null
      const refresh = async (): Promise<void> => {
        const fresh = await getJob(api, id)
        job = fresh
        out.job(job)
        if (FINAL_STATUSES.includes(job.status)) {
          finished = true
          stream.abort()
        }
      }
      const timer = setInterval(() => void refresh().catch(() => undefined), REFRESH_MS)
      try {
        await api.events((name, data) => {
          if (name === 'hello') {
            // Subscribed: whatever changed before now is read once, the rest comes as events.
            downSince = null
            delay = RECONNECT_MIN_MS
            void refresh().catch((err: unknown) => {
              failure = err
              stream.abort()
            })
          } else if (name === 'batch.progress') {
            const e = data as StreamEventMap['batch.progress']
            if (e.id !== id) return
            job = { ...job, progress: e.progress, hold: e.progress.hold }
            out.job(job)
          } else if (name === 'batch.status') {
            const e = data as StreamEventMap['batch.status']
            if (e.batch.id !== id) return
            job = { ...job, ...e.batch }
            out.job(job)
            // The final object (counts, files, status_detail) is read once more.
            if (FINAL_STATUSES.includes(e.to)) void refresh().catch(() => (finished = true))
          }
        }, stream.signal)
      } catch (err) {
        failure = err
      } finally {
        clearInterval(timer)
        interrupted.signal.removeEventListener('abort', stop)
      }
      if (failure instanceof CliError && failure.exitCode !== EXIT.unreachable) throw failure
      if (finished) return { ended: true, job }
      if (interrupted.signal.aborted) return { ended: false, job }
      // The stream ended or could not be opened: the service stopped or restarts.
      downSince ??= Date.now()
      if (Date.now() - downSince > GIVE_UP_MS) {
        throw failure instanceof CliError ? failure : new CliError(`lost the server at ${api.base} for ${GIVE_UP_MS / 1000} s while waiting for ${id}; the job may still run: vbs wait ${id}`, EXIT.unreachable)
      }
      const ok = await pause(delay, interrupted.signal)
      if (!ok) return { ended: false, job }
      api.refresh()
      delay = Math.min(delay * 2, RECONNECT_MAX_MS)
    }
  } finally {
    process.off('SIGINT', onSigint)
  }
}

/** Waits `ms`; false when interrupted first. */
function pause(ms: number, signal: AbortSignal): Promise<boolean> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve(false)
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort)
      resolve(true)
    }, ms)
    const onAbort = (): void => {
      clearTimeout(timer)
      resolve(false)
    }
    signal.addEventListener('abort', onAbort, { once: true })
  })
}
