import { create } from 'zustand'
import * as api from '../api'
import type { Comparison } from '../types'

interface ComparisonsState {
  /** The comparisons, newest first (the Compare view's list). */
  list: Comparison[]
  loaded: boolean
  loadError: string | null
  creating: boolean
  createError: string | null
  refresh: () => Promise<void>
  /** Compares jobs that exist (sharing custom_ids); resolves to the new comparison's id, or null when refused. */
  createFromJobs: (batchIds: string[], name?: string) => Promise<string | null>
}

const message = (err: unknown): string => (err instanceof Error ? err.message : String(err))

/** The list of comparisons, and making one from existing jobs (one from a file is the upload's: store/upload). */
export const useComparisonsStore = create<ComparisonsState>()((set, get) => ({
  list: [],
  loaded: false,
  loadError: null,
  creating: false,
  createError: null,
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
}))
