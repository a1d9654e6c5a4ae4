import { create } from 'zustand'
import * as api from '../api'
import type { SettingsField, SettingsPatch, SettingsView } from '../types'
import { useAuthStore } from './auth'
import { useGpuStore } from './gpu'

interface SettingsState {
  settings: SettingsView | null
  loadError: string | null
  saving: boolean
  /** A 400's message, next to the field its `param` names. */
  fieldErrors: Partial<Record<SettingsField, string>>
  /** A failure that names no field. */
  formError: string | null
  /** "Saved" after a successful PUT, until the next edit. */
  saved: boolean
  regenerating: boolean
  keyError: string | null
  /** What was just copied to the clipboard (for a moment's "Copied"). */
  copied: 'key' | 'link' | null
  refresh: () => Promise<void>
  save: (patch: SettingsPatch) => Promise<void>
  regenerateKey: () => Promise<void>
  /** Copies the key, or the dashboard link that carries it. */
  copy: (what: 'key' | 'link') => Promise<void>
  clearFeedback: () => void
}

// Every field once: a field added to the contract must be added here (the Record says so at compile time).
const FIELD_SET: Record<SettingsField, true> = {
  port: true,
  lan: true,
  thermal_pause_c: true,
  thermal_resume_c: true,
  chunk_size: true,
  start_at_login: true,
  batch_hours: true,
  batch_when_idle: true,
  gpu_power_limit_w: true,
  max_queue_wait_minutes: true,
}
const FIELDS = Object.keys(FIELD_SET) as SettingsField[]
const isField = (p: string | null): p is SettingsField => p !== null && (FIELDS as readonly string[]).includes(p)
/** How long "Copied" stays next to a copy button. */
const COPIED_SHOWN_MS = 2_000
const message = (err: unknown): string => (err instanceof Error ? err.message : String(err))

/** The service's settings and its API key. */
export const useSettingsStore = create<SettingsState>()((set) => ({
  settings: null,
  loadError: null,
  saving: false,
  fieldErrors: {},
  formError: null,
  saved: false,
  regenerating: false,
  keyError: null,
  copied: null,
  refresh: async () => {
    try {
      set({ settings: await api.getSettings(), loadError: null })
    } catch (err) {
      set({ loadError: message(err) })
    }
  },
  save: async (patch) => {
    set({ saving: true, fieldErrors: {}, formError: null, saved: false })
    try {
      const settings = await api.updateSettings(patch)
      set({ settings, saved: true })
      if (patch.thermal_pause_c !== undefined || patch.thermal_resume_c !== undefined) void useGpuStore.getState().refresh()
    } catch (err) {
      if (err instanceof api.ApiError && isField(err.param)) set({ fieldErrors: { [err.param]: err.message } })
      else set({ formError: message(err) })
    } finally {
      set({ saving: false })
    }
  },
  regenerateKey: async () => {
    set({ regenerating: true, keyError: null })
    try {
      const { api_key: key } = await api.regenerateApiKey()
      // Every call from now on needs the new key; the old one is refused at once.
      useAuthStore.getState().replace(key)
      set((s) => ({ settings: s.settings ? { ...s.settings, api_key: key } : s.settings }))
      void useSettingsStore.getState().refresh()
    } catch (err) {
      set({ keyError: message(err) })
    } finally {
      set({ regenerating: false })
    }
  },
  copy: async (what) => {
    const key = useAuthStore.getState().key ?? useSettingsStore.getState().settings?.api_key
    if (!key) return
    try {
      await api.copyText(what === 'key' ? key : api.dashboardLink(key, useSettingsStore.getState().settings?.share_url))
      set({ copied: what, keyError: null })
      setTimeout(() => {
        if (useSettingsStore.getState().copied === what) set({ copied: null })
      }, COPIED_SHOWN_MS)
    } catch (err) {
      set({ keyError: message(err) })
    }
  },
  clearFeedback: () => set({ fieldErrors: {}, formError: null, saved: false }),
}))
