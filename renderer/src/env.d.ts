import type { VbsApi } from '../../preload/api'

declare global {
  interface Window {
    /** Set by the preload inside the desktop app; absent in a browser on the LAN. */
    readonly vbs?: VbsApi
  }
}

export {}
