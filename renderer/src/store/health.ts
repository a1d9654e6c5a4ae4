import { create } from 'zustand'
import { getHealth, type Health } from '../api'

export type HealthState =
  | { state: 'loading' }
  | { state: 'up'; health: Health; checkedAt: number }
  | { state: 'down'; error: string; checkedAt: number }

interface HealthStore {
  health: HealthState
  refresh: () => Promise<void>
}

/** The service's health as last seen by the dashboard. */
export const useHealthStore = create<HealthStore>()((set) => ({
  health: { state: 'loading' },
  refresh: async () => {
    try {
      const health = await getHealth()
      set({ health: { state: 'up', health, checkedAt: Date.now() } })
    } catch (err) {
      set({ health: { state: 'down', error: (err as Error).message, checkedAt: Date.now() } })
    }
  },
}))
