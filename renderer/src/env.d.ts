import type { VbsApi } from '../../preload/api'

/** What the desktop app's preload may add beyond the connection info; each is absent until it exists. */
interface VbsNativeActions {
  openDataFolder?: () => void | Promise<void>
  openLogs?: () => void | Promise<void>
}

declare global {
  interface Window {
    /** Set by the preload inside the desktop app; absent in a browser on the LAN. */
    readonly vbs?: VbsApi & VbsNativeActions
  }
}

export {}
