import { create } from 'zustand'
import * as api from '../api'
import { pastTheEnd } from '../paging'
import { COMPARE_VIEW_START, type CompareViewParams } from '../route'
import { throttle } from '../throttle'
import type { Comparison, ComparisonRowPage, ExportFormat } from '../types'

/** Aligned rows per page. */
export const ROWS_PAGE_SIZE = 25
/** While the comparison's batches run, the figures and the visible rows are read again at most this often. */
export const COMPARE_REFRESH_MS = 1_000

export interface NoteDraft {
  customId: string
  text: string
  /** The vote saved with the note: the row's vote, or what the labeller picks ('' until then). */
  winner: string
}

interface CompareState {
  /** The comparison shown (`#/compare/<id>`), or null. */
  comparisonId: string | null
  comparison: Comparison | null
  loadError: string | null
  query: api.RowQuery
  /** The visible page of rows: only this page is held. */
  rows: ComparisonRowPage | null
  loading: boolean
  rowsError: string | null
  /** The current row (keyboard voting), an index into rows.data. */
  cursor: number
  /** The row the address names, until the page that holds it arrives (then the cursor is on it). */
  pendingRow: string | null
  note: NoteDraft | null
  /** The vote being sent, by custom_id. */
  sending: Record<string, true | undefined>
  voteError: string | null
  exporting: ExportFormat | null
  exportError: string | null
  /**
   * Shows the comparison standing at `params` (the address's: search, differences only, page, current row); on
   * the comparison already shown, moves it to `params` (a link or a typed address), reading only what changed.
   */
  open: (id: string, params?: CompareViewParams) => void
  close: () => void
  setSearch: (q: string) => void
  setDifferences: (differences: boolean) => void
  setOffset: (offset: number) => void
  refresh: () => Promise<void>
  /** A `batch.*` event of one of its batches: read again, at most once a second. */
  liveUpdate: () => void
  /** Whether the batch is one of the shown comparison's. */
  shows: (batchId: string) => boolean
  setCursor: (index: number) => void
  /** j/k: the next or previous row, onto the next or previous page at an end. */
  move: (delta: 1 | -1) => void
  /** Votes on the current row (or on `customId`). */
  vote: (winner: string, customId?: string) => Promise<void>
  openNote: (customId?: string) => void
  editNote: (patch: Partial<Pick<NoteDraft, 'text' | 'winner'>>) => void
  saveNote: () => Promise<void>
  closeNote: () => void
  exportAs: (format: ExportFormat) => Promise<void>
}

const message = (err: unknown): string => (err instanceof Error ? err.message : String(err))
const firstQuery = (): api.RowQuery => ({ q: '', differences: false, offset: 0, limit: ROWS_PAGE_SIZE })

const queryAt = (p: CompareViewParams): api.RowQuery => ({ q: p.q, differences: p.differences, offset: (p.page - 1) * ROWS_PAGE_SIZE, limit: ROWS_PAGE_SIZE })

const sameQuery = (a: api.RowQuery, b: api.RowQuery): boolean => a.q === b.q && a.differences === b.differences && a.offset === b.offset && a.limit === b.limit

/**
 * Where the view stands, as its address keeps it (see ../route). The current row is named only past the first
 * row of the page (where the page opens anyway).
 */
export const compareViewParams = (s: Pick<CompareState, 'query' | 'rows' | 'cursor' | 'pendingRow'>): CompareViewParams => ({
  q: s.query.q,
  differences: s.query.differences,
  page: Math.floor(s.query.offset / s.query.limit) + 1,
  row: s.pendingRow ?? (s.rows && s.cursor > 0 ? (s.rows.data[s.cursor]?.custom_id ?? null) : null),
})

const closed = {
  comparisonId: null,
  comparison: null,
  loadError: null,
  rows: null,
  loading: false,
  rowsError: null,
  cursor: 0,
  pendingRow: null,
  note: null,
  sending: {},
  voteError: null,
  exporting: null,
  exportError: null,
}

/** The comparison open in the Compare view: its figures, a page of aligned rows, the cursor, votes and notes. */
export const useCompareStore = create<CompareState>()((set, get) => {
  let rowsSeq = 0
  let comparisonSeq = 0
  /** Where the cursor goes once the page that j/k asked for arrives. */
  let cursorAfterLoad: 'first' | 'last' | null = null

  const loadRows = async (): Promise<void> => {
    const { comparisonId, query } = get()
    if (!comparisonId) return
    const seq = ++rowsSeq
    set({ loading: true })
    try {
      const rows = await api.listComparisonRows(comparisonId, query)
      if (seq !== rowsSeq) return
      const lastOffset = pastTheEnd(rows, query)
      if (lastOffset !== null) {
        // A page past the end (an old link): the last page instead.
        set((s) => ({ query: { ...s.query, offset: lastOffset } }))
        void loadRows()
        return
      }
      const wanted = cursorAfterLoad
      cursorAfterLoad = null
      set((s) => {
        const last = Math.max(0, rows.data.length - 1)
        const named = s.pendingRow === null ? -1 : rows.data.findIndex((r) => r.custom_id === s.pendingRow)
        const cursor =
          named !== -1 ? named : s.pendingRow !== null || wanted === 'first' ? 0 : wanted === 'last' ? last : Math.min(s.cursor, last)
        return { rows, rowsError: null, cursor, pendingRow: null }
      })
    } catch (err) {
      if (seq === rowsSeq) set({ rowsError: message(err) })
    } finally {
      if (seq === rowsSeq) set({ loading: false })
    }
  }

  const loadComparison = async (): Promise<void> => {
    const id = get().comparisonId
    if (!id) return
    const seq = ++comparisonSeq
    try {
      const comparison = await api.getComparison(id)
      if (seq === comparisonSeq) set({ comparison, loadError: null })
    } catch (err) {
      if (seq === comparisonSeq) set({ loadError: message(err) })
    }
  }

  const live = throttle(() => void get().refresh(), COMPARE_REFRESH_MS)

  const requery = (patch: Partial<api.RowQuery>): void => {
    set((s) => ({ query: { ...s.query, offset: 0, ...patch }, cursor: 0, pendingRow: null }))
    cursorAfterLoad = 'first'
    void loadRows()
  }

  const send = async (customId: string, winner: string, note?: string | null): Promise<boolean> => {
    const id = get().comparisonId
    if (!id) return false
    set((s) => ({ sending: { ...s.sending, [customId]: true }, voteError: null }))
    try {
      const vote = await api.putVote(id, customId, winner, note)
      if (get().comparisonId !== id) return false
      set((s) => ({
        rows: s.rows ? { ...s.rows, data: s.rows.data.map((r) => (r.custom_id === customId ? { ...r, vote } : r)) } : s.rows,
        // A note opened (n) right after a key vote, before the service answered, gets that vote.
        note: s.note && s.note.customId === customId && s.note.winner === '' ? { ...s.note, winner: vote.winner } : s.note,
      }))
      void loadComparison() // the win rates
      return true
    } catch (err) {
      set({ voteError: `The vote on ${customId} was not saved: ${message(err)}` })
      return false
    } finally {
      set((s) => ({ sending: { ...s.sending, [customId]: undefined } }))
    }
  }

  const currentRow = (customId?: string) => {
    const { rows, cursor } = get()
    return customId === undefined ? rows?.data[cursor] : rows?.data.find((r) => r.custom_id === customId)
  }

  return {
    ...closed,
    query: firstQuery(),
    open: (id, params = COMPARE_VIEW_START) => {
      const query = queryAt(params)
      if (get().comparisonId === id) {
        if (!sameQuery(query, get().query)) {
          set({ query, pendingRow: params.row })
          cursorAfterLoad = 'first'
          void loadRows()
          return
        }
        const { rows, loading, cursor } = get()
        if (params.row === compareViewParams(get()).row) return
        if (loading || !rows) {
          set({ pendingRow: params.row })
          return
        }
        const at = params.row === null ? 0 : rows.data.findIndex((r) => r.custom_id === params.row)
        if (at !== -1 && at !== cursor) set({ cursor: at })
        return
      }
      live.cancel()
      rowsSeq++
      comparisonSeq++
      cursorAfterLoad = null
      set({ ...closed, comparisonId: id, query, pendingRow: params.row })
      void loadComparison()
      void loadRows()
    },
    close: () => {
      live.cancel()
      rowsSeq++
      comparisonSeq++
      set({ ...closed, query: firstQuery() })
    },
    setSearch: (q) => {
      if (q !== get().query.q) requery({ q })
    },
    setDifferences: (differences) => requery({ differences }),
    setOffset: (offset) => {
      set((s) => ({ query: { ...s.query, offset: Math.max(0, offset) }, pendingRow: null }))
      cursorAfterLoad = 'first'
      void loadRows()
    },
    refresh: async () => {
      await Promise.all([loadComparison(), loadRows()])
    },
    liveUpdate: () => {
      if (get().comparisonId) live.request()
    },
    shows: (batchId) => get().comparison?.arms.some((a) => a.batch_id === batchId) ?? false,
    setCursor: (index) => {
      const n = get().rows?.data.length ?? 0
      if (n > 0) set({ cursor: Math.max(0, Math.min(n - 1, index)), pendingRow: null })
    },
    move: (delta) => {
      const { rows, cursor, query } = get()
      if (!rows) return
      const next = cursor + delta
      if (next >= 0 && next < rows.data.length) {
        set({ cursor: next, pendingRow: null })
        return
      }
      if (get().loading) return // a page is on its way: a second press would skip one
      if (delta > 0 && rows.has_more) {
        set((s) => ({ query: { ...s.query, offset: query.offset + query.limit }, pendingRow: null }))
        cursorAfterLoad = 'first'
        void loadRows()
      } else if (delta < 0 && query.offset > 0) {
        set((s) => ({ query: { ...s.query, offset: Math.max(0, query.offset - query.limit) }, pendingRow: null }))
        cursorAfterLoad = 'last'
        void loadRows()
      }
    },
    vote: async (winner, customId) => {
      const row = currentRow(customId)
      if (!row) return
      await send(row.custom_id, winner, row.vote?.note ?? undefined)
    },
    openNote: (customId) => {
      const row = currentRow(customId)
      if (!row) return
      set({ note: { customId: row.custom_id, text: row.vote?.note ?? '', winner: row.vote?.winner ?? '' } })
    },
    editNote: (patch) => set((s) => (s.note ? { note: { ...s.note, ...patch } } : {})),
    saveNote: async () => {
      const note = get().note
      if (!note || note.winner === '') return
      if (await send(note.customId, note.winner, note.text.trim() === '' ? null : note.text.trim())) set({ note: null })
    },
    closeNote: () => set({ note: null }),
    exportAs: async (format) => {
      const id = get().comparisonId
      if (!id) return
      set({ exporting: format, exportError: null })
      try {
        await api.downloadExport(id, format)
      } catch (err) {
        set({ exportError: message(err) })
      } finally {
        set({ exporting: null })
      }
    },
  }
})
