import { contextBridge, ipcRenderer } from 'electron'
import { IPC, parseConnection, type VbsApi } from './api'

// The connection comes over IPC, synchronously so it is there before the page's scripts run. It used to be
// passed in webPreferences.additionalArguments, which puts the API key on the renderer's command line, where
// any local user can read it (/proc/<pid>/cmdline).
const { serverUrl, apiKey } = parseConnection(ipcRenderer.sendSync(IPC.connection))

/** invoke() rejects with Electron's wrapper text around the main process's message; keep the message only. */
async function invoke(channel: string): Promise<void> {
  try {
    await ipcRenderer.invoke(channel)
  } catch (err) {
    const message = (err as Error).message.replace(/^Error invoking remote method '[^']*': (Error: )?/, '')
    throw new Error(message, { cause: err })
  }
}

const api = {
  serverUrl,
  apiKey,
  openDataFolder: () => invoke(IPC.openDataFolder),
  openLogs: () => invoke(IPC.openLogs),
} satisfies VbsApi

contextBridge.exposeInMainWorld('vbs', api)
