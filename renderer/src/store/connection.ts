import { create } from 'zustand'
import * as api from '../api'
import type { Health } from '../types'

interface ConnectionState {
  /** Whether the last health check reached the service. */
  reachable: 'unknown' | 'up' | 'down'
  /** What went wrong with the last check, for the banner. */
  problem: string | null
  health: Health | null
  stream: api.StreamState
  setHealth: (health: Health) => void
  setStream: (stream: api.StreamState) => void
  /** `GET /health`; resolves to whether the service answered. */
  checkHealth: () => Promise<boolean>
}

/** Whether the service can be reached, its last health document and the state of the live event stream. */
export const useConnectionStore = create<ConnectionState>()((set) => ({
  reachable: 'unknown',
  problem: null,
  health: null,
  stream: { state: 'connecting' },
  setHealth: (health) => set({ health, reachable: 'up', problem: null }),
  setStream: (stream) => set({ stream }),
  checkHealth: async () => {
    try {
      const health = await api.getHealth()
      set({ health, reachable: 'up', problem: null })
      return true
    } catch (err) {
      const e = err instanceof api.ApiError ? err : new api.ApiError(0, String(err))
      // Reached but answering errors (a proxy, a restart) is not "down"; only no answer at all is.
      if (e.status === 0) set({ reachable: 'down', problem: e.message })
      else set({ reachable: 'up', problem: e.message })
      return e.status !== 0
    }
  },
}))
