import fs from 'node:fs'
import path from 'node:path'
import { ipcMain, shell, type IpcMainEvent, type IpcMainInvokeEvent, type WebFrameMain } from 'electron'
import { IPC, type VbsConnection } from '../../preload/api'
import { isTrustedSender, type SenderFrame } from './navigation'

export interface IpcDeps {
  /** The dashboard window's page: the only one answered. */
  webContentsId: () => number | null
  serviceOrigin: string
  connection: () => VbsConnection
  dataDir: string
}

/**
 * The main process's side of preload/api.ts: the connection (synchronous, so the key is there before the page's
 * scripts run, and never on a command line) and the two folder actions. Every message is checked to come from
 * the dashboard's own main frame. Returns a function that removes the handlers.
 */
export function registerIpc(d: IpcDeps): () => void {
  const trusted = (event: IpcMainEvent | IpcMainInvokeEvent): boolean =>
    event.sender.id === d.webContentsId() && isTrustedSender(senderFrame(event.senderFrame), d.serviceOrigin)

  ipcMain.on(IPC.connection, (event) => {
    event.returnValue = trusted(event) ? d.connection() : null
  })
  const open = (dir: string) => async (event: IpcMainInvokeEvent): Promise<void> => {
    if (!trusted(event)) throw new Error('refused: not the dashboard window')
    fs.mkdirSync(dir, { recursive: true })
    // openPath answers an error message, or '' when the folder opened.
    const error = await shell.openPath(dir)
    if (error) throw new Error(`cannot open ${dir}: ${error}`)
  }
  ipcMain.handle(IPC.openDataFolder, open(d.dataDir))
  ipcMain.handle(IPC.openLogs, open(path.join(d.dataDir, 'logs')))
  return () => {
    ipcMain.removeAllListeners(IPC.connection)
    ipcMain.removeHandler(IPC.openDataFolder)
    ipcMain.removeHandler(IPC.openLogs)
  }
}

/** The parts of the sending frame the check needs; null when the frame is gone (reading it then throws). */
function senderFrame(frame: WebFrameMain | null): SenderFrame | null {
  if (!frame) return null
  try {
    return { origin: frame.origin, isMainFrame: frame.parent === null, detached: frame.detached }
  } catch {
    return null
  }
}
