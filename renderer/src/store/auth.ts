import { create } from 'zustand'
import * as api from '../api'

/** Where the key in use came from. */
export type KeySource = 'desktop' | 'link' | 'saved' | 'entered' | 'regenerated'

interface AuthState {
  key: string | null
  source: KeySource | null
  /** Why the page asks for a key (shown above the form). */
  message: string | null
  /** Uses a key typed by the user (and keeps it for the next visit). */
  enter: (key: string) => void
  /** Uses the key the service just generated. */
  replace: (key: string) => void
}

export const ASK_MESSAGE =
  "Enter the service's API key. `npm run serve` prints where it is kept (the api-key file in its data folder); " +
  'in the desktop app, Settings → Copy dashboard link gives a link that carries it.'

const use = (key: string | null, source: KeySource | null): Pick<AuthState, 'key' | 'source'> => {
  api.setApiKey(key)
  return { key, source }
}

/** The API key every call sends, and whether the page must ask for one. */
export const useAuthStore = create<AuthState>()((set) => ({
  key: null,
  source: null,
  message: null,
  enter: (key) => {
    const k = key.trim()
    if (!k) return
    api.storeKey(k)
    set({ ...use(k, 'entered'), message: null })
  },
  replace: (key) => {
    api.storeKey(key)
    set({ ...use(key, 'regenerated'), message: null })
  },
}))

/** A 401 from any call: the key is wrong or was changed. Forget it and ask, saying why. */
api.onUnauthorized((serviceMessage) => {
  if (useAuthStore.getState().key === null) return
  api.forgetStoredKey()
  useAuthStore.setState({
    ...use(null, null),
    message: `The service did not accept the API key (${serviceMessage.replace(/\.$/, '')}). The key may have been regenerated: enter the current one.`,
  })
})

/**
 * Picks the key at start: the desktop window's, else one in the address (`#key=`, then kept), else the one
 * kept from a previous visit; without any, the page asks once.
 */
export function bootstrapAuth(): void {
  const fromLink = api.takeKeyFromFragment() // always: the key leaves the address bar either way
  if (fromLink) api.storeKey(fromLink)
  const fromDesktop = api.desktopKey()
  const saved = api.readStoredKey()
  if (fromDesktop) useAuthStore.setState({ ...use(fromDesktop, 'desktop'), message: null })
  else if (fromLink) useAuthStore.setState({ ...use(fromLink, 'link'), message: null })
  else if (saved) useAuthStore.setState({ ...use(saved, 'saved'), message: null })
  else useAuthStore.setState({ ...use(null, null), message: ASK_MESSAGE })
}
