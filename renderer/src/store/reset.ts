import { setApiKey } from '../api/transport'
import { useAuthStore } from './auth'
import { useCompareStore } from './compare'
import { useComparisonsStore } from './comparisons'
import { useConnectionStore } from './connection'
import { useEngineStore } from './engine'
import { useGpuStore } from './gpu'
import { useJobViewStore } from './job-view'
import { useQueueStore } from './queue'
import { useRouteStore } from './route'
import { useSettingsStore } from './settings'
import { useUploadStore } from './upload'
import { useWebhooksStore } from './webhooks'

const initial = {
  auth: useAuthStore.getState(),
  connection: useConnectionStore.getState(),
  engine: useEngineStore.getState(),
  gpu: useGpuStore.getState(),
  queue: useQueueStore.getState(),
  settings: useSettingsStore.getState(),
  upload: useUploadStore.getState(),
  route: useRouteStore.getState(),
  jobView: useJobViewStore.getState(),
  compare: useCompareStore.getState(),
  comparisons: useComparisonsStore.getState(),
  webhooks: useWebhooksStore.getState(),
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
  useRouteStore.setState(initial.route, true)
  useJobViewStore.getState().close() // its pending live refresh
  useJobViewStore.setState(initial.jobView, true)
  useCompareStore.getState().close()
  useCompareStore.setState(initial.compare, true)
  useComparisonsStore.setState(initial.comparisons, true)
  useWebhooksStore.setState(initial.webhooks, true)
}
