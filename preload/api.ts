/**
 * What the preload gives the dashboard as `window.vbs`: how to reach the service, and in the desktop app two
 * native actions. The dashboard talks to the service only over HTTP, exactly as a browser on the LAN does (where
 * `window.vbs` is absent), so this is connection info and a few intents, never `ipcRenderer` itself.
 */
export interface VbsApi {
  /** The service's base URL on this machine, e.g. `http://127.0.0.1:4080`. */
  serverUrl: string
  /** The key the service expects as `Authorization: Bearer`. */
  apiKey: string
  /** Opens the data folder in the system's file manager (desktop app only). */
  openDataFolder?: () => Promise<void>
  /** Opens the logs folder in the system's file manager (desktop app only). */
  openLogs?: () => Promise<void>
}

/** The IPC channels between the preload and the main process. */
export const IPC = {
  /** Synchronous, at preload start: answers a VbsConnection. Never on the command line (other users read it). */
  connection: 'vbs:connection',
  openDataFolder: 'vbs:open-data-folder',
  openLogs: 'vbs:open-logs',
} as const

/** The connection part of the API, as the main process answers `vbs:connection`. */
export type VbsConnection = Pick<VbsApi, 'serverUrl' | 'apiKey'>

/** Checks the main process's answer; anything unexpected (a refusal answers null) gives empty values. */
export function parseConnection(value: unknown): VbsConnection {
  const v = (value ?? {}) as Record<string, unknown>
  return {
    serverUrl: typeof v.serverUrl === 'string' ? v.serverUrl : '',
    apiKey: typeof v.apiKey === 'string' ? v.apiKey : '',
  }
}
