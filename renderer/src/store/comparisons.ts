import { create } from 'zustand'
import * as api from '../api'
import type { Comparison, Job } from '../types'

interface ComparisonsState {
  /** The comparisons, newest first (the Compare view's list). */
  list: Comparison[]
  loaded: boolean
  loadError: string | null
  creating: boolean
  createError: string | null
  refresh: () => Promise<void>
  /** A job found by its id for "Compare existing jobs" (one older than the pages of the queue read so far). */
  found: Job | null
  findError: string | null
  /** Looks a job up by its id (null: forget the last one). */
  findJob: (id: string | null) => Promise<void>
  /** Compares jobs that exist (sharing custom_ids); resolves to the new comparison's id, or null when refused. */
  createFromJobs: (batchIds: string[], name?: string) => Promise<string | null>
}

const message = (err: unknown): string => (err instanceof Error ? err.message : String(err))

/** The list of comparisons, and making one from existing jobs (one from a file is the upload's: store/upload). */
export const useComparisonsStore = create<ComparisonsState>()((set, get) => {
  // Only the answer to the latest look-up is kept (typing an id sends one per pause).
  let findSeq = 0
  return {
    list: [],
    loaded: false,
    loadError: null,
    creating: false,
    createError: null,
    found: null,
    findError: null,
    findJob: async (id) => {
      const seq = ++findSeq
      set({ found: null, findError: null })
      if (id === null) return
      try {
        const job = await api.getJob(id)
        if (seq === findSeq) set({ found: job })
      } catch (err) {
        if (seq === findSeq) set({ findError: message(err) })
      }
    },
    refresh: async () => {
      try {
        const page = await api.listComparisons()
        set({ list: page.data, loaded: true, loadError: null })
      } catch (err) {
        set({ loadError: message(err) })
      }
    },
    createFromJobs: async (batchIds, name) => {
      set({ creating: true, createError: null })
      try {
        const c = await api.createComparison(name ? { batch_ids: batchIds, name } : { batch_ids: batchIds })
        set({ list: [c, ...get().list.filter((x) => x.id !== c.id)] })
        return c.id
      } catch (err) {
        set({ createError: message(err) })
        return null
      } finally {
        set({ creating: false })
      }
    },
  }
})
