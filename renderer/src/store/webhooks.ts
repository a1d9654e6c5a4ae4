import { create } from 'zustand'
import * as api from '../api'
import type { WebhookDelivery, WebhookEndpoint, WebhookEndpointCreated, WebhookEventType } from '../types'

interface WebhooksState {
  /** Whether the webhooks were read (the settings view was opened): only then do events refresh them. */
  loaded: boolean
  endpoints: WebhookEndpoint[]
  /** Where the secret for URLs in batch metadata comes from. */
  metadataSecretOrigin: string | null
  dead: WebhookDelivery[]
  loadError: string | null
  /** The endpoint just added, with its secret: shown once, until dismissed. */
  created: WebhookEndpointCreated | null
  /** A refused add (the service's message, e.g. a URL that is this service). */
  addError: string | null
  adding: boolean
  /** Deliveries being redelivered, and the last redeliver's failure. */
  redelivering: string[]
  actionError: string | null
  refresh: () => Promise<void>
  add: (url: string, events: WebhookEventType[]) => Promise<boolean>
  remove: (id: string) => Promise<void>
  redeliver: (id: string) => Promise<void>
  dismissSecret: () => void
}

const message = (err: unknown): string => (err instanceof Error ? err.message : String(err))

/** The webhooks of the settings view: receivers (add shows the secret once, remove) and dead letters (redeliver). */
export const useWebhooksStore = create<WebhooksState>()((set, get) => ({
  loaded: false,
  endpoints: [],
  metadataSecretOrigin: null,
  dead: [],
  loadError: null,
  created: null,
  addError: null,
  adding: false,
  redelivering: [],
  actionError: null,
  refresh: async () => {
    try {
      const [list, dead] = await Promise.all([api.listWebhooks(), api.listDeadWebhooks()])
      set({ loaded: true, endpoints: list.data, metadataSecretOrigin: list.metadata_secret_origin, dead, loadError: null })
    } catch (err) {
      set({ loadError: message(err) })
    }
  },
  add: async (url, events) => {
    set({ adding: true, addError: null, created: null })
    try {
      const created = await api.addWebhook({ url, events })
      set({ created })
      await get().refresh()
      return true
    } catch (err) {
      set({ addError: message(err) })
      return false
    } finally {
      set({ adding: false })
    }
  },
  remove: async (id) => {
    try {
      await api.removeWebhook(id)
      set({ actionError: null })
    } catch (err) {
      set({ actionError: message(err) })
    }
    await get().refresh()
  },
  redeliver: async (id) => {
    set((s) => ({ redelivering: [...s.redelivering, id], actionError: null }))
    try {
      await api.redeliverWebhook(id)
    } catch (err) {
      set({ actionError: message(err) })
    } finally {
      set((s) => ({ redelivering: s.redelivering.filter((x) => x !== id) }))
    }
    await get().refresh()
  },
  dismissSecret: () => set({ created: null }),
}))
