import { app, dialog } from 'electron'
import { Service } from '../service'
import { DashboardWindow } from './window'

/**
 * The Electron shell around the service: one instance per user, the service started once Electron is ready
 * and stopped cleanly before the app quits. The tray comes later; until then a second launch shows the window.
 */
function main(): void {
  if (!app.requestSingleInstanceLock()) {
    app.quit()
    return
  }

  let service: Service | null = null
  let window: DashboardWindow | null = null
  let stopping: Promise<void> | null = null
  let stopped = false

  app.on('second-instance', () => {
    window?.show().catch((err: unknown) => console.error(`vllm-batch-server: cannot show the window: ${(err as Error).message}`))
  })

  // Quit waits for the service: the first before-quit is cancelled, the service stops (work in hand reaches a
  // safe point, the database closes), and then the app quits for real.
  app.on('before-quit', (event) => {
    if (!service || stopped) return
    event.preventDefault()
    stopping ??= service
      .stop()
      .catch((err: unknown) => console.error(`vllm-batch-server: error while stopping: ${(err as Error).message}`))
      .finally(() => {
        stopped = true
        app.quit()
      })
  })

  app
    .whenReady()
    .then(async () => {
      service = new Service()
      await service.start()
      window = new DashboardWindow({ serverUrl: service.url, apiKey: service.apiKey })
    })
    .catch(async (err: unknown) => {
      dialog.showErrorBox('vLLM Batch Server cannot start', (err as Error).message)
      await service?.stop().catch(() => undefined)
      app.exit(1)
    })
}

main()
