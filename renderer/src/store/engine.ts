import { create } from 'zustand'
import * as api from '../api/endpoints'
import type { DownloadProgress, EngineStatus, EngineView, ModelObject } from '../types'

type EngineAction = 'start' | 'stop' | 'switch'

interface EngineStoreState {
  /** The last full read (GET /api/engine), updated by each action's answer and `engine.state` event. */
  status: (EngineStatus & Partial<Pick<EngineView, 'registry' | 'warmPoolGb'>>) | null
  models: ModelObject[]
  /** Why the status or the model list could not be read. */
  loadError: string | null
  /** The action waiting for the service's answer. */
  pending: EngineAction | null
  /** The last action's failure (e.g. 503 model_busy while a batch holds the GPU). */
  actionError: string | null
  refresh: () => Promise<void>
  refreshModels: () => Promise<void>
  /** An `engine.state` event: the new status (the registry's state and the pool's budget are kept from the last full read). */
  applyStatus: (status: EngineStatus) => void
  /** A `model.download` event: the progress of the model file the engine waits for. */
  applyDownload: (progress: DownloadProgress) => void
  /** Starts the engine: the given model, else the last or default one. */
  start: (model?: string) => Promise<void>
  stop: () => Promise<void>
  switchTo: (model: string) => Promise<void>
  dismissError: () => void
}

const message = (err: unknown): string => (err instanceof Error ? err.message : String(err))

/** The engine (vLLM, llama.cpp or remote): state, loading phase, download, log tail, the registry's models, and start/stop/switch. */
export const useEngineStore = create<EngineStoreState>()((set, get) => {
  const act = async (action: EngineAction, run: () => Promise<EngineStatus>): Promise<void> => {
    set({ pending: action, actionError: null })
    try {
      const status = await run()
      set((s) => ({ status: { ...status, registry: s.status?.registry, warmPoolGb: s.status?.warmPoolGb } }))
    } catch (err) {
      set({ actionError: message(err) })
    } finally {
      set({ pending: null })
    }
  }
  return {
    status: null,
    models: [],
    loadError: null,
    pending: null,
    actionError: null,
    refresh: async () => {
      try {
        set({ status: await api.getEngine(), loadError: null })
      } catch (err) {
        set({ loadError: message(err) })
      }
    },
    refreshModels: async () => {
      try {
        set({ models: await api.getModels() })
      } catch (err) {
        set({ loadError: message(err) })
      }
    },
    applyStatus: (status) => set((s) => ({ status: { ...status, registry: s.status?.registry, warmPoolGb: s.status?.warmPoolGb } })),
    applyDownload: (progress) =>
      set((s) => {
        if (!s.status || s.status.model !== progress.model || s.status.state !== 'starting') return {}
        return { status: { ...s.status, download: progress.state === 'done' ? null : progress } }
      }),
    start: (model) => act('start', () => api.startEngine(model)),
    stop: () => act('stop', () => api.stopEngine()),
    switchTo: (model) => act('switch', () => api.switchModel(model)),
    dismissError: () => {
      if (get().actionError !== null) set({ actionError: null })
    },
  }
})
