/** The service's JSON endpoints the dashboard calls, one function each (sent through ./transport). */
import type {
  BatchObject,
  BatchPriority,
  DeadLetter,
  DeadLetterPage,
  EngineStatus,
  EngineView,
  GpuView,
  Health,
  Job,
  JobPage,
  ModelList,
  ModelObject,
  PauseState,
  PriorityChange,
  ScheduleState,
  SettingsPatch,
  SettingsView,
} from '../types'
import { call } from './transport'

const enc = encodeURIComponent

export const getHealth = (): Promise<Health> => call('GET', '/health')

// ---- the engine and the GPU -----------------------------------------------------------------------------

export const getEngine = (): Promise<EngineView> => call('GET', '/api/engine')
export const getModels = async (): Promise<ModelObject[]> => (await call<ModelList>('GET', '/v1/models')).data
export const startEngine = (model?: string): Promise<EngineStatus> => call('POST', '/api/engine/start', model ? { model } : {})
export const stopEngine = (): Promise<EngineStatus> => call('POST', '/api/engine/stop')
export const switchModel = (model: string): Promise<EngineStatus> => call('POST', '/api/engine/switch', { model })

export const getGpu = (): Promise<GpuView> => call('GET', '/api/gpu')

// ---- batches --------------------------------------------------------------------------------------------

export const listJobs = (after?: string): Promise<JobPage> =>
  call('GET', `/api/batches?limit=100${after ? `&after=${enc(after)}` : ''}`)
export const getJob = (id: string): Promise<Job> => call('GET', `/api/batches/${enc(id)}`)
export const cancelBatch = (id: string): Promise<BatchObject> => call('POST', `/v1/batches/${enc(id)}/cancel`)
export const retryFailed = (id: string): Promise<BatchObject> => call('POST', `/api/batches/${enc(id)}/retry-failed`)
export const listFailed = async (id: string): Promise<DeadLetter[]> =>
  (await call<DeadLetterPage>('GET', `/api/batches/${enc(id)}/failed?limit=1000`)).data
export const pauseAll = (): Promise<PauseState> => call('POST', '/api/batches/pause')
export const resumeAll = (): Promise<PauseState> => call('POST', '/api/batches/resume')
export const setPriority = (id: string, priority: BatchPriority): Promise<Job> =>
  call('PUT', `/api/batches/${enc(id)}/priority`, { priority } satisfies PriorityChange)
/** "Run now anyway" (on) until the batch hours next open, or back to the batch hours (off). */
export const setRunNow = (on: boolean): Promise<ScheduleState> => call(on ? 'POST' : 'DELETE', '/api/batches/run-now')
export const createBatch = (inputFileId: string, endpoint: string): Promise<BatchObject> =>
  call('POST', '/v1/batches', { input_file_id: inputFileId, endpoint, completion_window: '24h' })

// ---- settings -------------------------------------------------------------------------------------------

export const getSettings = (): Promise<SettingsView> => call('GET', '/api/settings')
export const updateSettings = (patch: SettingsPatch): Promise<SettingsView> => call('PUT', '/api/settings', patch)
export const regenerateApiKey = (): Promise<{ api_key: string }> => call('POST', '/api/settings/api-key')
