import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { clipboard, Menu, nativeImage, Tray, type MenuItemConstructorOptions, type NativeImage } from 'electron'
import type { Service } from '../service'
import type { ServiceEventMap } from '../events'
import { appRoot } from '../config/app-paths'
import { apiUrl, dashboardLink, shareableBaseUrl } from '../contract/share-links'
import { throttle, type Throttled } from './throttle'
import { trayIconRepresentations } from './tray-icons'
import {
  menuLabel,
  menuSignature,
  stoppingMenuTemplate,
  trayMenuTemplate,
  trayState,
  trayTooltip,
  type TrayActions,
  type TrayMenuItem,
  type TrayState,
} from './tray-menu'
import { traySnapshot } from './tray-snapshot'

/** At most this many rebuilds a second, however fast progress and GPU samples arrive. */
const REFRESH_MS = 500
/** A slow refresh for what announces no event (real-time requests in flight, a pause from the API). */
const POLL_MS = 5000
/** The service events that can change what the tray shows. */
const EVENTS: readonly (keyof ServiceEventMap)[] = [
  'engine.state',
  'model.download',
  'batch.status',
  'batch.progress',
  'gpu.sample',
  'gpu.status',
  'thermal',
  'settings.changed',
]

export interface AppTrayDeps {
  service: Service
  showWindow(): void
  quit(): void
  /** Tells the user that something asked from the tray failed. */
  notify(title: string, body: string): void
}

/** What the tray shows, for the end-to-end test. */
export interface TrayDescription {
  state: TrayState
  tooltip: string
  menu: string
}

/**
 * The tray icon: its picture, tooltip and menu follow the service (tray-menu.ts decides all three from a
 * snapshot); this class only reads the snapshot, hands the result to Electron and binds the actions.
 */
export class AppTray {
  private readonly tray: Tray
  private readonly images = new Map<TrayState, NativeImage>()
  private readonly unsubscribe: (() => void)[] = []
  private readonly refresh: Throttled
  private readonly poll: NodeJS.Timeout
  private state: TrayState | null = null
  private tooltip = ''
  private signature = ''
  private disposed = false

  constructor(private readonly d: AppTrayDeps) {
    this.tray = new Tray(this.image('idle'))
    // Windows opens the window on a click (the menu is on the right button); Linux panels (StatusNotifier)
    // send no clicks at all, and macOS opens the menu: "Open dashboard" is in the menu for them.
    if (process.platform === 'win32') this.tray.on('click', () => d.showWindow())
    this.refresh = throttle(() => this.render(), REFRESH_MS)
    for (const name of EVENTS) this.unsubscribe.push(d.service.events.on(name, () => this.refresh()))
    this.poll = setInterval(() => this.refresh(), POLL_MS)
    this.render()
  }

  /** Stops following the service (before it stops); the icon stays until destroy(). */
  dispose(): void {
    this.disposed = true
    for (const off of this.unsubscribe.splice(0)) off()
    this.refresh.cancel()
    clearInterval(this.poll)
  }

  /** Quit was chosen: the tray stops following the service and says it is stopping until the app exits. */
  stopping(): void {
    this.dispose()
    if (this.tray.isDestroyed()) return
    this.tooltip = 'vLLM Batch Server: stopping…'
    this.tray.setToolTip(this.tooltip)
    const template = stoppingMenuTemplate()
    this.signature = menuSignature(template)
    this.tray.setContextMenu(Menu.buildFromTemplate(template.map((item) => toElectron(item, process.platform))))
  }

  destroy(): void {
    this.dispose()
    if (!this.tray.isDestroyed()) this.tray.destroy()
  }

  describe(): TrayDescription {
    return { state: this.state ?? 'idle', tooltip: this.tooltip, menu: this.signature }
  }

  private render(): void {
    if (this.disposed || this.tray.isDestroyed()) return
    const snapshot = traySnapshot(this.d.service)
    const state = trayState(snapshot)
    if (state !== this.state) {
      this.tray.setImage(this.image(state))
      this.state = state
    }
    const tooltip = trayTooltip(snapshot)
    if (tooltip !== this.tooltip) {
      this.tray.setToolTip(tooltip)
      this.tooltip = tooltip
    }
    const template = trayMenuTemplate(snapshot, this.actions)
    const signature = menuSignature(template)
    // Linux (StatusNotifier) takes a menu only through setContextMenu, so a change means a new menu; an unchanged
    // one is left alone, since replacing a menu the user has open closes it there.
    if (signature !== this.signature) {
      this.tray.setContextMenu(Menu.buildFromTemplate(template.map((item) => toElectron(item, process.platform))))
      this.signature = signature
    }
  }

  private image(state: TrayState): NativeImage {
    let image = this.images.get(state)
    if (!image) {
      image = nativeImage.createEmpty()
      // Read with fs, not createFromPath: inside the packaged app the files sit in app.asar.
      for (const rep of trayIconRepresentations(path.join(appRoot(), 'resources', 'tray'), state, process.platform)) {
        try {
          image.addRepresentation({ scaleFactor: rep.scaleFactor, buffer: fs.readFileSync(rep.file) })
        } catch (err) {
          console.error(`vllm-batch-server: tray icon ${rep.file} missing: ${(err as Error).message}`)
        }
      }
      this.images.set(state, image)
    }
    return image
  }

  private readonly actions: TrayActions = {
    startEngine: () => this.engineAction('Cannot start the engine', () => this.d.service.engine.start()),
    stopEngine: () => this.engineAction('Cannot stop the engine', () => this.d.service.engine.stop()),
    loadModel: (id) => {
      const status = this.d.service.engine.status()
      if (status.model === id && (status.state === 'ready' || status.state === 'starting' || status.state === 'waking')) return
      this.engineAction(`Cannot load ${id}`, () => this.d.service.engine.start(id))
    },
    pauseBatches: () => {
      this.d.service.scheduler.pause()
      this.refresh()
    },
    resumeBatches: () => {
      this.d.service.scheduler.resume()
      this.refresh()
    },
    runNow: () => {
      this.d.service.scheduler.runNow(true)
      this.refresh()
    },
    followSchedule: () => {
      this.d.service.scheduler.runNow(false)
      this.refresh()
    },
    openDashboard: () => this.d.showWindow(),
    copyApiUrl: () => clipboard.writeText(apiUrl(this.shareableBase())),
    copyApiKey: () => clipboard.writeText(this.d.service.apiKey),
    copyDashboardLink: () => clipboard.writeText(dashboardLink(this.shareableBase(), this.d.service.apiKey)),
    setStartAtLogin: (enabled) => {
      try {
        // settings.changed follows; main.ts applies it to the system and this tray redraws.
        this.d.service.updateSettings({ startAtLogin: enabled })
      } catch (err) {
        this.d.notify('Cannot change start at login', (err as Error).message)
      }
    },
    quit: () => this.d.quit(),
  }

  private shareableBase(): string {
    return shareableBaseUrl(this.d.service.url, this.d.service.settings.host, os.networkInterfaces())
  }

  /** Engine calls take as long as a model load; their failures arrive later, as a notification. */
  private engineAction(failure: string, run: () => Promise<void>): void {
    run()
      .catch((err: unknown) => this.d.notify(failure, (err as Error).message))
      .finally(() => this.refresh())
    this.refresh()
  }
}

function toElectron(item: TrayMenuItem, platform: NodeJS.Platform): MenuItemConstructorOptions {
  switch (item.kind) {
    case 'separator':
      return { type: 'separator' }
    case 'label':
      return { id: item.id, label: menuLabel(item.label, platform), enabled: false }
    case 'action':
      return { id: item.id, label: menuLabel(item.label, platform), enabled: item.enabled, click: item.click }
    case 'checkbox':
    case 'radio':
      return {
        id: item.id,
        type: item.kind,
        label: menuLabel(item.label, platform),
        checked: item.checked,
        enabled: item.enabled,
        click: item.click,
      }
    case 'submenu':
      return {
        id: item.id,
        label: menuLabel(item.label, platform),
        enabled: item.enabled,
        submenu: item.items.map((child) => toElectron(child, platform)),
      }
  }
}
