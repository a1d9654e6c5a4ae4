import fs from 'node:fs'
import path from 'node:path'
import { app, BrowserWindow, nativeImage, shell, type NativeImage, type WebContents } from 'electron'
import { appRoot } from '../config/app-paths'
import { navigationDecision } from './navigation'

// This file is bundled into out/main/index.js; electron-vite writes the preload beside it.
const PRELOAD = path.join(__dirname, '../preload/index.js')

/**
 * The dashboard window. It shows the page the service serves at `/` (the same page a browser on the LAN sees,
 * same origin as the API, so no CORS); the preload hands it the key. The app lives in the tray, so the window is
 * created hidden, loads the dashboard the first time it is shown, and hides instead of closing; it closes for
 * real only when the app quits.
 */
export class DashboardWindow {
  private readonly win: BrowserWindow
  private readonly origin: string
  private loaded: Promise<void> | null = null
  private quitting = false

  constructor(private readonly serverUrl: string) {
    this.origin = new URL(serverUrl).origin
    this.win = new BrowserWindow({
      show: false,
      width: 1100,
      height: 760,
      minWidth: 640,
      minHeight: 480,
      title: 'vLLM Batch Server',
      icon: windowIcon(),
      autoHideMenuBar: true,
      webPreferences: {
        preload: PRELOAD,
        contextIsolation: true,
        sandbox: true,
        nodeIntegration: false,
        webviewTag: false,
        spellcheck: false,
      },
    })
    this.lockDown(this.win.webContents)
    app.on('before-quit', () => {
      this.quitting = true
    })
    this.win.on('close', (event) => {
      if (this.quitting) return
      event.preventDefault()
      this.win.hide()
    })
  }

  /** The window's page, for the IPC handlers to check who is asking. */
  get webContents(): WebContents {
    return this.win.webContents
  }

  /** The service's origin: the only one the window shows. */
  get serviceOrigin(): string {
    return this.origin
  }

  async show(): Promise<void> {
    this.loaded ??= this.win.loadURL(`${this.serverUrl}/`).catch((err: unknown) => {
      this.loaded = null // try again on the next show
      throw err
    })
    await this.loaded
    if (this.win.isMinimized()) this.win.restore()
    this.win.show()
    this.win.focus()
  }

  /**
   * Nothing but the service's own pages in this window: window.open is denied, navigation elsewhere is stopped,
   * and an http(s) link to another site opens in the system browser instead. No permission is granted (camera,
   * notifications, ...) except writing to the clipboard, which the dashboard's copy buttons use.
   */
  private lockDown(contents: WebContents): void {
    const external = (url: string): void => {
      if (navigationDecision(url, this.origin) !== 'external') return
      shell.openExternal(url).catch((err: unknown) => console.error(`vllm-batch-server: cannot open ${url}: ${(err as Error).message}`))
    }
    contents.setWindowOpenHandler(({ url }) => {
      external(url)
      return { action: 'deny' }
    })
    const guard = (event: { preventDefault(): void }, url: string): void => {
      if (navigationDecision(url, this.origin) === 'allow') return
      event.preventDefault()
      external(url)
    }
    contents.on('will-navigate', (event, url) => guard(event, url))
    contents.on('will-redirect', (event, url) => guard(event, url))
    contents.on('will-attach-webview', (event) => event.preventDefault())
    contents.session.setPermissionRequestHandler((wc, permission, callback, details) => {
      const fromDashboard = navigationDecision(details.requestingUrl, this.origin) === 'allow'
      callback(fromDashboard && permission === 'clipboard-sanitized-write')
    })
    contents.session.setPermissionCheckHandler((wc, permission, requestingOrigin) => {
      return navigationDecision(requestingOrigin, this.origin) === 'allow' && permission === 'clipboard-sanitized-write'
    })
  }
}

/** The window icon (Linux and Windows title bars and task switchers). Read with fs: it may sit in app.asar. */
function windowIcon(): NativeImage | undefined {
  try {
    return nativeImage.createFromBuffer(fs.readFileSync(path.join(appRoot(), 'resources', 'icon.png')))
  } catch {
    return undefined
  }
}
