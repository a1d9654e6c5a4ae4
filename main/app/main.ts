import { app, dialog, Notification, powerMonitor } from 'electron'
import { Service } from '../service'
import { registerIpc } from './ipc'
import { startFailure, startsHidden, userDataDir } from './launch'
import { applyStartAtLogin, openedAtLogin } from './login-item'
import { AppTray } from './tray'
import { DashboardWindow } from './window'

/** Windows groups notifications and taskbar entries by this id; electron-builder.yml's appId is the same. */
const APP_ID = 'io.github.vllm-batch-server'

/**
 * The Electron shell around the service: one instance per user (a second launch shows the first one's window),
 * the same service as `npm run serve` started once Electron is ready, then the window (hidden) and the tray.
 * Quitting stops the service cleanly first: the engine is stopped and running jobs stop at a safe point, to
 * resume at the next start.
 */
function main(): void {
  // A separate data dir is a separate instance: its own lock and Chromium profile (see launch.ts).
  const profile = userDataDir(process.env)
  if (profile) app.setPath('userData', profile)
  if (!app.requestSingleInstanceLock()) {
    app.quit()
    return
  }
  if (process.platform === 'win32') app.setAppUserModelId(APP_ID)

  let service: Service | null = null
  let window: DashboardWindow | null = null
  let tray: AppTray | null = null
  let stopIpc: (() => void) | null = null
  let stopWatchingSettings: (() => void) | null = null
  /** A show asked for before the window exists (a second launch during start-up). */
  let showWhenReady = false
  let stopping: Promise<void> | null = null
  let stopped = false

  const log = (message: string): void => {
    if (service) service.log.error(message)
    else console.error(`vllm-batch-server: ${message}`)
  }

  const showWindow = (): void => {
    if (!window) {
      showWhenReady = true
      return
    }
    window.show().catch((err: unknown) => log(`cannot show the window: ${(err as Error).message}`))
  }

  const notify = (title: string, body: string): void => {
    log(`${title}: ${body}`)
    if (Notification.isSupported()) new Notification({ title, body }).show()
    else dialog.showErrorBox(title, body)
  }

  /** Makes the system's start-at-login match the setting (at start, so a moved AppImage is followed too). */
  let appliedStartAtLogin: boolean | null = null
  const syncStartAtLogin = (enabled: boolean): void => {
    if (enabled === appliedStartAtLogin) return
    try {
      const done = applyStartAtLogin(enabled)
      appliedStartAtLogin = enabled
      service?.log.info({ startAtLogin: enabled }, done)
    } catch (err) {
      notify('Cannot change start at login', (err as Error).message)
    }
  }

  app.on('second-instance', (_event, argv) => {
    if (!startsHidden(argv)) showWindow()
  })
  // macOS: a click on the Dock icon. macOS also activates the app as it launches (a login launch too): those
  // come before the window exists and are ignored, so --hidden / wasOpenedAtLogin decide the first show.
  app.on('activate', () => {
    if (window) showWindow()
  })
  // Closing the window hides it; the app stays in the tray until Quit.
  app.on('window-all-closed', () => undefined)

  // Quit waits for the service: the first before-quit is cancelled, the service stops (work in hand reaches a
  // safe point, the engine stops, the database closes), and then the app quits for real.
  app.on('before-quit', (event) => {
    if (!service || stopped) return
    event.preventDefault()
    tray?.stopping()
    stopWatchingSettings?.()
    stopping ??= service
      .stop()
      .catch((err: unknown) => console.error(`vllm-batch-server: error while stopping: ${(err as Error).message}`))
      .finally(() => {
        stopped = true
        app.quit()
      })
  })
  app.on('will-quit', () => {
    tray?.destroy()
    stopIpc?.()
  })

  app
    .whenReady()
    .then(async () => {
      let listening: { host: string; port: number } | null = null
      try {
        // Idle-only (VBS_BATCH_WHEN_IDLE) reads the desktop's idle time; the headless service has none.
        const s = new Service({ idleSeconds: () => powerMonitor.getSystemIdleTime() })
        listening = { host: s.settings.host, port: s.settings.port }
        service = s
        await s.start()
      } catch (err) {
        const { title, message } = startFailure(err, listening)
        dialog.showErrorBox(title, message)
        await service?.stop().catch(() => undefined)
        app.exit(1)
        return
      }
      const s = service
      const win = new DashboardWindow(s.url)
      window = win
      stopIpc = registerIpc({
        webContentsId: () => win.webContents.id,
        serviceOrigin: win.serviceOrigin,
        connection: () => ({ serverUrl: s.url, apiKey: s.apiKey }),
        dataDir: s.settings.dataDir,
      })
      syncStartAtLogin(s.settings.startAtLogin)
      // The tray and the dashboard both change the setting through the service; this follows either.
      stopWatchingSettings = s.events.on('settings.changed', ({ settings }) => syncStartAtLogin(settings.startAtLogin))
      tray = new AppTray({ service: s, showWindow, quit: () => app.quit(), notify })
      if (process.env.VBS_E2E === '1') exposeForTests(() => tray, () => window)
      if (showWhenReady || !startsHidden(process.argv, openedAtLogin())) showWindow()
    })
    .catch(async (err: unknown) => {
      dialog.showErrorBox('vLLM Batch Server cannot start', (err as Error).message)
      await service?.stop().catch(() => undefined)
      app.exit(1)
    })
}

/**
 * The end-to-end test (tests/e2e/electron.test.ts) reads the shell's state through Playwright's evaluate in
 * this process; it sets VBS_E2E=1. Nothing is exposed otherwise.
 */
function exposeForTests(tray: () => AppTray | null, window: () => DashboardWindow | null): void {
  Object.assign(globalThis, {
    __vbsShell: {
      tray: () => tray()?.describe() ?? null,
      windowCreated: () => window() !== null,
    },
  })
}

main()
