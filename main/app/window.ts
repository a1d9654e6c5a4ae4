import path from 'node:path'
import { app, BrowserWindow } from 'electron'
import { connectionArgs, type VbsApi } from '../../preload/api'

// This file is bundled into out/main/index.js; electron-vite writes the preload and the renderer beside it.
const PRELOAD = path.join(__dirname, '../preload/index.js')
const DASHBOARD = path.join(__dirname, '../renderer/index.html')

/**
 * The dashboard window. The app lives in the background, so the window starts hidden, loads the dashboard only
 * the first time it is shown, and hides instead of closing; it closes for real only when the app quits.
 */
export class DashboardWindow {
  private readonly win: BrowserWindow
  private loaded: Promise<void> | null = null
  private quitting = false

  constructor(connection: VbsApi) {
    this.win = new BrowserWindow({
      show: false,
      width: 1100,
      height: 760,
      title: 'vLLM Batch Server',
      webPreferences: {
        preload: PRELOAD,
        contextIsolation: true,
        sandbox: true,
        nodeIntegration: false,
        additionalArguments: connectionArgs(connection),
      },
    })
    this.win.webContents.setWindowOpenHandler(() => ({ action: 'deny' }))
    this.win.webContents.on('will-navigate', (event) => event.preventDefault())
    app.on('before-quit', () => {
      this.quitting = true
    })
    this.win.on('close', (event) => {
      if (this.quitting) return
      event.preventDefault()
      this.win.hide()
    })
  }

  async show(): Promise<void> {
    this.loaded ??= this.win.loadFile(DASHBOARD).catch((err: unknown) => {
      this.loaded = null // try again on the next show
      throw err
    })
    await this.loaded
    this.win.show()
    this.win.focus()
  }
}
