import { setApiKey } from '../api/transport'
import { useAuthStore } from './auth'
import { useConnectionStore } from './connection'
import { useEngineStore } from './engine'
import { useGpuStore } from './gpu'
import { useQueueStore } from './queue'
import { useSettingsStore } from './settings'
import { useUploadStore } from './upload'

const initial = {
  auth: useAuthStore.getState(),
  connection: useConnectionStore.getState(),
  engine: useEngineStore.getState(),
  gpu: useGpuStore.getState(),
  queue: useQueueStore.getState(),
  settings: useSettingsStore.getState(),
  upload: useUploadStore.getState(),
}

/** Puts every store back as it was when the page loaded (for tests, which share one module instance). */
export function resetStores(): void {
  setApiKey(null)
  useAuthStore.setState(initial.auth, true)
  useConnectionStore.setState(initial.connection, true)
  useEngineStore.setState(initial.engine, true)
  useGpuStore.setState(initial.gpu, true)
  useQueueStore.setState(initial.queue, true)
  useSettingsStore.setState(initial.settings, true)
  useUploadStore.setState(initial.upload, true)
}
