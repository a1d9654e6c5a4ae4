import { create } from 'zustand'
import * as api from '../api'
import { pastTheEnd } from '../paging'
import { JOB_VIEW_START, type JobViewParams } from '../route'
import { throttle } from '../throttle'
import type { BatchObject, BatchProgress, FinishReasonCount, Job, ResultDetail, ResultPage, ResultState } from '../types'

/** Rows of the results table per page. */
export const RESULTS_PAGE_SIZE = 50
/** While a shown job runs, its visible page is read again at most this often (results commit many times a second). */
export const LIVE_REFRESH_MS = 1_000

interface JobViewState {
  /** The job shown (`#/jobs/<id>`), or null when the view is closed. */
  batchId: string | null
  job: Job | null
  jobError: string | null
  query: api.ResultQuery
  /** The visible page of results: only this page is ever held, whatever the job's size. */
  page: ResultPage | null
  loading: boolean
  pageError: string | null
  /** The finish reasons of the job's answers, counted (the filter's choices); null until read. */
  finishReasons: FinishReasonCount[] | null
  /** The request open in the side panel. */
  selected: string | null
  detail: ResultDetail | null
  detailError: string | null
  /**
   * Shows the job standing at `params` (the address's: search, filters, page, open request); on the job already
   * shown, moves it to `params` (a link or a typed address), reading only what changed.
   */
  open: (batchId: string, params?: JobViewParams) => void
  close: () => void
  setSearch: (q: string) => void
  setStateFilter: (state: ResultState | null) => void
  setFinishReason: (finishReason: string | null) => void
  setOffset: (offset: number) => void
  /** Reads the finish reasons again (the filter is about to be used: answers committed since change them). */
  refreshFinishReasons: () => Promise<void>
  /** Reads the job and the visible page again (and the open request while it is pending). */
  refresh: () => Promise<void>
  /** A `batch.progress` or `batch.status` of the shown job: read the page again, at most once a second. */
  liveUpdate: () => void
  applyProgress: (id: string, progress: BatchProgress) => void
  applyBatch: (batch: BatchObject) => void
  select: (customId: string | null) => void
}

const message = (err: unknown): string => (err instanceof Error ? err.message : String(err))

const firstQuery = (): api.ResultQuery => ({ q: '', state: null, finishReason: null, offset: 0, limit: RESULTS_PAGE_SIZE })

const queryAt = (p: JobViewParams): api.ResultQuery => ({
  q: p.q,
  state: p.state,
  finishReason: p.finishReason,
  offset: (p.page - 1) * RESULTS_PAGE_SIZE,
  limit: RESULTS_PAGE_SIZE,
})

const sameQuery = (a: api.ResultQuery, b: api.ResultQuery): boolean =>
  a.q === b.q && a.state === b.state && a.finishReason === b.finishReason && a.offset === b.offset && a.limit === b.limit

/** Where the view stands, as its address keeps it (see ../route). */
export const jobViewParams = (s: Pick<JobViewState, 'query' | 'selected'>): JobViewParams => ({
  q: s.query.q,
  state: s.query.state,
  finishReason: s.query.finishReason,
  page: Math.floor(s.query.offset / s.query.limit) + 1,
  open: s.selected,
})

const closed = {
  batchId: null,
  job: null,
  jobError: null,
  page: null,
  loading: false,
  pageError: null,
  finishReasons: null,
  selected: null,
  detail: null,
  detailError: null,
}

/** The Job view: the job's progress, a page of its results with search and filters, and one request in full. */
export const useJobViewStore = create<JobViewState>()((set, get) => {
  // Answers can come back out of order (typing, paging): only the latest request's answer is kept.
  let pageSeq = 0
  let detailSeq = 0

  const loadPage = async (): Promise<void> => {
    const { batchId, query } = get()
    if (!batchId) return
    const seq = ++pageSeq
    set({ loading: true })
    try {
      const page = await api.listResults(batchId, query)
      if (seq !== pageSeq) return
      const lastOffset = pastTheEnd(page, query)
      if (lastOffset !== null) {
        // A page past the end (an old link): the last page instead.
        set((s) => ({ query: { ...s.query, offset: lastOffset } }))
        void loadPage()
        return
      }
      set({ page, pageError: null })
    } catch (err) {
      if (seq === pageSeq) set({ pageError: message(err) })
    } finally {
      if (seq === pageSeq) set({ loading: false })
    }
  }

  const loadJob = async (): Promise<void> => {
    const batchId = get().batchId
    if (!batchId) return
    try {
      const job = await api.getJob(batchId)
      if (get().batchId !== batchId) return
      // A progress event newer than what the read saw wins (the event stream and the read race).
      const current = get().job?.progress
      const newer = current && job.progress && current.updatedAt > job.progress.updatedAt ? { progress: current, hold: current.hold } : {}
      set({ job: { ...job, ...newer }, jobError: null })
    } catch (err) {
      if (get().batchId === batchId) set({ jobError: message(err) })
    }
  }

  const loadDetail = async (customId: string): Promise<void> => {
    const batchId = get().batchId
    if (!batchId) return
    const seq = ++detailSeq
    try {
      const detail = await api.getResult(batchId, customId)
      if (seq === detailSeq) set({ detail, detailError: null })
    } catch (err) {
      if (seq === detailSeq) set({ detailError: message(err) })
    }
  }

  let reasonsSeq = 0
  const loadFinishReasons = async (): Promise<void> => {
    const batchId = get().batchId
    if (!batchId) return
    const seq = ++reasonsSeq
    try {
      const finishReasons = await api.listFinishReasons(batchId)
      if (seq === reasonsSeq && get().batchId === batchId) set({ finishReasons })
    } catch {
      // The filter offers the common reasons instead.
    }
  }

  const live = throttle(() => void get().refresh(), LIVE_REFRESH_MS)

  const requery = (patch: Partial<api.ResultQuery>): void => {
    set((s) => ({ query: { ...s.query, offset: 0, ...patch } }))
    void loadPage()
  }

  return {
    ...closed,
    query: firstQuery(),
    open: (batchId, params = JOB_VIEW_START) => {
      const query = queryAt(params)
      if (get().batchId === batchId) {
        if (!sameQuery(query, get().query)) {
          set({ query })
          void loadPage()
        }
        if (params.open !== get().selected) get().select(params.open)
        return
      }
      live.cancel()
      pageSeq++
      detailSeq++
      set({ ...closed, batchId, query, selected: params.open })
      void loadJob()
      void loadPage()
      void loadFinishReasons()
      if (params.open !== null) void loadDetail(params.open)
    },
    close: () => {
      live.cancel()
      pageSeq++
      detailSeq++
      set({ ...closed, query: firstQuery() })
    },
    setSearch: (q) => {
      if (q !== get().query.q) requery({ q })
    },
    setStateFilter: (state) => requery({ state }),
    setFinishReason: (finishReason) => requery({ finishReason }),
    setOffset: (offset) => {
      set((s) => ({ query: { ...s.query, offset: Math.max(0, offset) } }))
      void loadPage()
    },
    refreshFinishReasons: loadFinishReasons,
    refresh: async () => {
      const { selected, detail } = get()
      await Promise.all([loadJob(), loadPage(), selected && (!detail || detail.state === 'pending') ? loadDetail(selected) : undefined])
    },
    liveUpdate: () => {
      if (get().batchId) live.request()
    },
    applyProgress: (id, progress) =>
      set((s) => (s.job && s.job.id === id ? { job: { ...s.job, progress, hold: progress.hold } } : {})),
    applyBatch: (batch) => set((s) => (s.job && s.job.id === batch.id ? { job: { ...s.job, ...batch } } : {})),
    select: (customId) => {
      detailSeq++
      set({ selected: customId, detail: null, detailError: null })
      if (customId !== null) void loadDetail(customId)
    },
  }
})
