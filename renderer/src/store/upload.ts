import { create } from 'zustand'
import * as api from '../api'
import { previewJsonl, type JsonlPreview } from '../jsonl-preview'
import { useQueueStore } from './queue'

export type UploadPhase =
  | { phase: 'idle' }
  | { phase: 'uploading'; loaded: number; total: number }
  | { phase: 'creating'; total: number; what: 'batch' | 'comparison' }
  | { phase: 'done'; batchId: string; total: number }
  | { phase: 'compared'; comparisonId: string; models: string[]; total: number }
  | { phase: 'failed'; error: string; step: 'upload' | 'create' | 'compare' }

interface UploadState {
  /** The file chosen or dropped (kept until the next one). */
  file: File | null
  preview: JsonlPreview | null
  previewing: boolean
  previewError: string | null
  upload: UploadPhase
  /** True while a file is dragged over the window. */
  dragging: boolean
  choose: (file: File) => Promise<void>
  submit: () => Promise<void>
  /**
   * "Run on several models": uploads the file, then makes a comparison that runs it on each of `models` (2 to
   * 4). Resolves to the comparison's id, or null when a step failed (the phase says which and why).
   */
  runOnModels: (models: string[]) => Promise<string | null>
  cancelUpload: () => void
  clear: () => void
  setDragging: (dragging: boolean) => void
}

const message = (err: unknown): string => (err instanceof Error ? err.message : String(err))

/** A new batch or comparison: the dropped file, its preview, then upload + create with progress. */
export const useUploadStore = create<UploadState>()((set, get) => {
  let previewAbort: AbortController | null = null
  let uploadAbort: AbortController | null = null

  /** Uploads the file with progress; resolves to its id, or null when it failed (the phase says why). */
  const uploadFile = async (file: File): Promise<string | null> => {
    const ctrl = new AbortController()
    uploadAbort = ctrl
    set({ upload: { phase: 'uploading', loaded: 0, total: file.size } })
    try {
      const uploaded = await api.uploadBatchFile(file, (p) => set({ upload: { phase: 'uploading', loaded: p.loaded, total: p.total } }), ctrl.signal)
      return uploaded.id
    } catch (err) {
      set({ upload: { phase: 'failed', error: message(err), step: 'upload' } })
      return null
    } finally {
      uploadAbort = null
    }
  }

  return {
    file: null,
    preview: null,
    previewing: false,
    previewError: null,
    upload: { phase: 'idle' },
    dragging: false,
    choose: async (file) => {
      const busy = get().upload.phase
      if (busy === 'uploading' || busy === 'creating') return
      previewAbort?.abort()
      const ctrl = new AbortController()
      previewAbort = ctrl
      if (!/\.jsonl$/i.test(file.name)) {
        set({
          file,
          preview: null,
          previewing: false,
          previewError: `${file.name} is not a .jsonl file: a batch input file holds one JSON request per line and its name ends in .jsonl.`,
          upload: { phase: 'idle' },
        })
        return
      }
      set({ file, preview: null, previewing: true, previewError: null, upload: { phase: 'idle' } })
      try {
        const preview = await previewJsonl(file, ctrl.signal)
        if (!ctrl.signal.aborted) set({ preview, previewing: false })
      } catch (err) {
        if (!ctrl.signal.aborted) set({ previewing: false, previewError: `Could not read ${file.name}: ${message(err)}` })
      }
    },
    submit: async () => {
      const { file, preview, upload } = get()
      if (!file || !preview?.endpoint || upload.phase === 'uploading' || upload.phase === 'creating') return
      const fileId = await uploadFile(file)
      if (fileId === null) return
      set({ upload: { phase: 'creating', total: file.size, what: 'batch' } })
      try {
        const batch = await api.createBatch(fileId, preview.endpoint)
        useQueueStore.getState().upsertBatch(batch)
        void useQueueStore.getState().refreshJob(batch.id)
        set({ upload: { phase: 'done', batchId: batch.id, total: file.size } })
      } catch (err) {
        set({ upload: { phase: 'failed', error: message(err), step: 'create' } })
      }
    },
    runOnModels: async (models) => {
      const { file, preview, upload } = get()
      if (!file || !preview?.endpoint || upload.phase === 'uploading' || upload.phase === 'creating') return null
      const fileId = await uploadFile(file)
      if (fileId === null) return null
      set({ upload: { phase: 'creating', total: file.size, what: 'comparison' } })
      try {
        const c = await api.createComparison({ input_file_id: fileId, models, name: file.name, endpoint: preview.endpoint })
        set({ upload: { phase: 'compared', comparisonId: c.id, models: c.models, total: file.size } })
        return c.id
      } catch (err) {
        set({ upload: { phase: 'failed', error: message(err), step: 'compare' } })
        return null
      }
    },
    cancelUpload: () => uploadAbort?.abort(),
    clear: () => {
      previewAbort?.abort()
      const busy = get().upload.phase
      if (busy === 'uploading' || busy === 'creating') return
      set({ file: null, preview: null, previewing: false, previewError: null, upload: { phase: 'idle' } })
    },
    setDragging: (dragging) => {
      if (get().dragging !== dragging) set({ dragging })
    },
  }
})
