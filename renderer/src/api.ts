/**
 * All of the dashboard's I/O: HTTP and the event stream to the service (same origin, the same from the
 * desktop window and from a browser on the LAN), the upload, downloads, the clipboard, where the API key is
 * kept, and the desktop's native actions. Stores call these; components never do I/O themselves.
 */
import { SseParser } from './sse'
import type {
  BatchObject,
  EngineView,
  ErrorEnvelope,
  FailedRequest,
  FileObject,
  GpuView,
  Health,
  Job,
  JobPage,
  ModelInfo,
  SettingsPatch,
  SettingsView,
} from './types'

/** Every request gives up after this long; the caller shows the error and the next poll tries again. */
const REQUEST_TIMEOUT_MS = 15_000
/** Bounds on the long transfers (an output file of 200,000 results; a 512 MiB upload on a slow LAN). */
const DOWNLOAD_TIMEOUT_MS = 30 * 60_000
const UPLOAD_TIMEOUT_MS = 60 * 60_000
/** The service sends a keep-alive every 15 s: a stream silent for this long is dead, whatever TCP thinks. */
const STREAM_IDLE_MS = 45_000
/** Reconnecting the event stream: 1 s, doubling, at most 30 s. */
export const RECONNECT_MIN_MS = 1_000
export const RECONNECT_MAX_MS = 30_000
const KEY_STORAGE = 'vbs.apiKey'

/** A failed call: the service's error envelope, or status 0 when the service could not be reached. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly code: string | null = null,
    readonly param: string | null = null,
  ) {
    super(message)
    this.name = 'ApiError'
  }
}

/** The service's address, for messages (requests themselves go to this page's own origin). */
export function serviceUrl(): string {
  return window.vbs?.serverUrl || location.origin
}

export function unreachableMessage(): string {
  return `Cannot reach the service at ${serviceUrl()}: is it running? (npm run serve, or the tray app)`
}

// ---- the API key ----------------------------------------------------------------------------------------

let apiKey: string | null = null
const unauthorizedListeners = new Set<(message: string) => void>()

/** The key every call sends from now on (null: none). */
export function setApiKey(key: string | null): void {
  apiKey = key
}

/** Called whenever the service answers 401 (a wrong, changed or missing key). */
export function onUnauthorized(listener: (message: string) => void): () => void {
  unauthorizedListeners.add(listener)
  return () => unauthorizedListeners.delete(listener)
}

function unauthorized(message: string): void {
  for (const listener of unauthorizedListeners) listener(message)
}

/** The key the desktop app's preload hands over, if this page runs in its window. */
export function desktopKey(): string | null {
  return window.vbs?.apiKey || null
}

/**
 * A key given in the address as `#key=<key>` (the "Copy dashboard link" link). It is taken out of the
 * address bar at once, so it does not stay in the history or get shared with a screenshot.
 */
export function takeKeyFromFragment(): string | null {
  const hash = location.hash.replace(/^#/, '')
  if (hash === '') return null
  const parts = hash.split('&')
  const at = parts.findIndex((p) => p.startsWith('key='))
  if (at === -1) return null
  let key: string
  try {
    key = decodeURIComponent(parts[at].slice('key='.length)).trim()
  } catch {
    key = ''
  }
  parts.splice(at, 1)
  const rest = parts.join('&')
  history.replaceState(history.state, '', `${location.pathname}${location.search}${rest ? `#${rest}` : ''}`)
  return key || null
}

export function readStoredKey(): string | null {
  try {
    return localStorage.getItem(KEY_STORAGE) || null
  } catch {
    return null // storage disabled (private mode, policy)
  }
}

export function storeKey(key: string): void {
  try {
    localStorage.setItem(KEY_STORAGE, key)
  } catch {
    // Not kept: the page asks again after a reload.
  }
}

export function forgetStoredKey(): void {
  try {
    localStorage.removeItem(KEY_STORAGE)
  } catch {
    // nothing kept
  }
}

/**
 * A link that opens this dashboard with the key (taken out of the address bar on arrival), at the address another
 * machine would use (`shareUrl` from the service: its LAN address when it serves the LAN), else this page's.
 */
export function dashboardLink(key: string, shareUrl?: string | null): string {
  const base = (shareUrl || location.origin).replace(/\/+$/, '')
  return `${base}/#key=${encodeURIComponent(key)}`
}

// ---- HTTP -----------------------------------------------------------------------------------------------

function authHeaders(): Record<string, string> {
  return apiKey ? { Authorization: `Bearer ${apiKey}` } : {}
}

function isEnvelope(v: unknown): v is ErrorEnvelope {
  if (typeof v !== 'object' || v === null || !('error' in v)) return false
  const e = (v as { error: unknown }).error
  return typeof e === 'object' && e !== null && typeof (e as { message?: unknown }).message === 'string'
}

/** The error a failed response stands for (and the 401 announcement). */
function errorFromBody(status: number, text: string, what: string): ApiError {
  let parsed: unknown = null
  try {
    parsed = JSON.parse(text)
  } catch {
    // not JSON: a proxy's page, or nothing
  }
  const err = isEnvelope(parsed)
    ? new ApiError(status, parsed.error.message, parsed.error.code ?? null, parsed.error.param ?? null)
    : new ApiError(status, `${what} answered ${status}${text ? `: ${text.slice(0, 200)}` : ''}`)
  if (status === 401) unauthorized(err.message)
  return err
}

function transportError(err: unknown, timeoutMs: number): ApiError {
  if (err instanceof DOMException && err.name === 'TimeoutError') {
    return new ApiError(0, `The service at ${serviceUrl()} did not answer within ${Math.round(timeoutMs / 1000)} s. Try again.`, 'timeout')
  }
  return new ApiError(0, unreachableMessage(), 'unreachable')
}

async function send(method: string, path: string, body: unknown, timeoutMs: number): Promise<Response> {
  const headers: Record<string, string> = { ...authHeaders(), Accept: 'application/json' }
  if (body !== undefined) headers['Content-Type'] = 'application/json'
  let res: Response
  try {
    res = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      cache: 'no-store',
      signal: AbortSignal.timeout(timeoutMs),
    })
  } catch (err) {
    throw transportError(err, timeoutMs)
  }
  if (!res.ok) throw errorFromBody(res.status, await res.text().catch(() => ''), `${method} ${path}`)
  return res
}

async function call<T>(method: string, path: string, body?: unknown): Promise<T> {
  const res = await send(method, path, body, REQUEST_TIMEOUT_MS)
  try {
    return (await res.json()) as T
  } catch {
    throw new ApiError(res.status, `${method} ${path} answered with something that is not JSON.`)
  }
}

const enc = encodeURIComponent

export const getHealth = (): Promise<Health> => call('GET', '/health')

export const getEngine = (): Promise<EngineView> => call('GET', '/api/engine')
export const getModels = async (): Promise<ModelInfo[]> => (await call<{ data: ModelInfo[] }>('GET', '/v1/models')).data
export const startEngine = (model?: string): Promise<EngineView> => call('POST', '/api/engine/start', model ? { model } : {})
export const stopEngine = (): Promise<EngineView> => call('POST', '/api/engine/stop')
export const switchModel = (model: string): Promise<EngineView> => call('POST', '/api/engine/switch', { model })

export const getGpu = (): Promise<GpuView> => call('GET', '/api/gpu')

export const listJobs = (after?: string): Promise<JobPage> =>
  call('GET', `/api/batches?limit=100${after ? `&after=${enc(after)}` : ''}`)
export const getJob = (id: string): Promise<Job> => call('GET', `/api/batches/${enc(id)}`)
export const cancelBatch = (id: string): Promise<BatchObject> => call('POST', `/v1/batches/${enc(id)}/cancel`)
export const retryFailed = (id: string): Promise<BatchObject> => call('POST', `/api/batches/${enc(id)}/retry-failed`)
export const listFailed = async (id: string): Promise<FailedRequest[]> =>
  (await call<{ data: FailedRequest[] }>('GET', `/api/batches/${enc(id)}/failed?limit=1000`)).data
export const pauseAll = (): Promise<{ paused: boolean }> => call('POST', '/api/batches/pause')
export const resumeAll = (): Promise<{ paused: boolean }> => call('POST', '/api/batches/resume')
export const createBatch = (inputFileId: string, endpoint: string): Promise<BatchObject> =>
  call('POST', '/v1/batches', { input_file_id: inputFileId, endpoint, completion_window: '24h' })

export const getSettings = (): Promise<SettingsView> => call('GET', '/api/settings')
export const updateSettings = (patch: SettingsPatch): Promise<SettingsView> => call('PUT', '/api/settings', patch)
export const regenerateApiKey = (): Promise<{ api_key: string }> => call('POST', '/api/settings/api-key')

/** Fetches a file's content with the key and hands it to the browser as a download named `filename`. */
export async function downloadFile(fileId: string, filename: string): Promise<void> {
  const res = await send('GET', `/v1/files/${enc(fileId)}/content`, undefined, DOWNLOAD_TIMEOUT_MS)
  let blob: Blob
  try {
    blob = await res.blob()
  } catch (err) {
    throw transportError(err, DOWNLOAD_TIMEOUT_MS)
  }
  const url = URL.createObjectURL(blob)
  const a = document.createElement('a')
  a.href = url
  a.download = filename
  a.rel = 'noopener'
  a.style.display = 'none'
  document.body.append(a)
  a.click()
  a.remove()
  // The download has its own copy by the time it starts; give it a moment before letting go of the blob.
  setTimeout(() => URL.revokeObjectURL(url), 60_000)
}

export interface UploadProgress {
  loaded: number
  total: number
}

/**
 * `POST /v1/files` (multipart: purpose=batch, file), with XMLHttpRequest because fetch reports no upload
 * progress. Abort with `signal`.
 */
export function uploadBatchFile(file: File, onProgress: (p: UploadProgress) => void, signal?: AbortSignal): Promise<FileObject> {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest()
    const form = new FormData()
    form.append('purpose', 'batch')
    form.append('file', file, file.name)
    xhr.open('POST', '/v1/files')
    for (const [name, value] of Object.entries(authHeaders())) xhr.setRequestHeader(name, value)
    xhr.setRequestHeader('Accept', 'application/json')
    xhr.timeout = UPLOAD_TIMEOUT_MS
    xhr.upload.onprogress = (e: ProgressEvent) => {
      onProgress({ loaded: e.loaded, total: e.lengthComputable ? e.total : file.size })
    }
    xhr.onload = () => {
      if (xhr.status >= 200 && xhr.status < 300) {
        try {
          resolve(JSON.parse(xhr.responseText) as FileObject)
        } catch {
          reject(new ApiError(xhr.status, 'POST /v1/files answered with something that is not JSON.'))
        }
        return
      }
      reject(errorFromBody(xhr.status, xhr.responseText, 'POST /v1/files'))
    }
    xhr.onerror = () => reject(new ApiError(0, unreachableMessage(), 'unreachable'))
    xhr.ontimeout = () => reject(new ApiError(0, `The upload did not finish within ${UPLOAD_TIMEOUT_MS / 60_000} min.`, 'timeout'))
    xhr.onabort = () => reject(new ApiError(0, 'Upload cancelled.', 'aborted'))
    signal?.addEventListener('abort', () => xhr.abort(), { once: true })
    xhr.send(form)
  })
}

// ---- the event stream -----------------------------------------------------------------------------------

export type StreamState =
  | { state: 'connecting' }
  | { state: 'open' }
  | { state: 'waiting'; retryAt: number; error: string }
  | { state: 'closed' }

export interface EventStreamHandlers {
  onEvent: (name: string, data: unknown) => void
  onState: (state: StreamState) => void
}

/**
 * Reads `GET /api/events` with fetch (EventSource cannot send the Authorization header) and reconnects when
 * it drops, 1 s doubling to 30 s; the delay starts over once a connection delivers an event. A 401 ends it
 * (the page asks for the key). Returns the function that closes it for good.
 */
export function openEventStream(handlers: EventStreamHandlers): () => void {
  let closed = false
  let delay = RECONNECT_MIN_MS
  let controller: AbortController | null = null
  let retryTimer: ReturnType<typeof setTimeout> | undefined

  const connect = async (): Promise<void> => {
    handlers.onState({ state: 'connecting' })
    const ctrl = new AbortController()
    controller = ctrl
    let idleTimer: ReturnType<typeof setTimeout> | undefined
    const touch = (): void => {
      clearTimeout(idleTimer)
      idleTimer = setTimeout(() => ctrl.abort(new DOMException('no data for 45 s', 'TimeoutError')), STREAM_IDLE_MS)
    }
    let error = 'the service closed the event stream'
    try {
      touch()
      const res = await fetch('/api/events', {
        headers: { ...authHeaders(), Accept: 'text/event-stream' },
        cache: 'no-store',
        signal: ctrl.signal,
      })
      if (res.status === 401) {
        errorFromBody(401, await res.text().catch(() => ''), 'GET /api/events')
        closed = true
        handlers.onState({ state: 'closed' })
        return
      }
      if (!res.ok || !res.body) throw errorFromBody(res.status, await res.text().catch(() => ''), 'GET /api/events')
      handlers.onState({ state: 'open' })
      const reader = res.body.getReader()
      const parser = new SseParser()
      for (;;) {
        const { done, value } = await reader.read()
        if (done) break
        touch()
        for (const message of parser.push(value)) {
          delay = RECONNECT_MIN_MS
          let data: unknown
          try {
            data = JSON.parse(message.data)
          } catch {
            continue // not ours
          }
          if (!closed) handlers.onEvent(message.event, data)
        }
      }
    } catch (err) {
      if (closed) return
      error = err instanceof ApiError ? err.message : ctrl.signal.aborted ? 'the event stream went quiet' : unreachableMessage()
    } finally {
      clearTimeout(idleTimer)
    }
    if (closed) return
    const wait = delay
    delay = Math.min(delay * 2, RECONNECT_MAX_MS)
    handlers.onState({ state: 'waiting', retryAt: Date.now() + wait, error })
    retryTimer = setTimeout(() => void connect(), wait)
  }

  void connect()
  return () => {
    closed = true
    clearTimeout(retryTimer)
    controller?.abort()
  }
}

// ---- the desktop and the browser ------------------------------------------------------------------------

/** Copies text; falls back to a hidden textarea where the Clipboard API is missing (plain http on the LAN). */
export async function copyText(text: string): Promise<void> {
  // navigator.clipboard exists only in a secure context (https, localhost): not on http://workstation:4080.
  if (typeof navigator.clipboard?.writeText === 'function') {
    await navigator.clipboard.writeText(text)
    return
  }
  const area = document.createElement('textarea')
  area.value = text
  area.setAttribute('readonly', '')
  area.style.position = 'fixed'
  area.style.opacity = '0'
  document.body.append(area)
  area.select()
  const ok = document.execCommand('copy')
  area.remove()
  if (!ok) throw new Error('The browser did not allow copying: select the text and copy it by hand.')
}

export interface NativeActions {
  openDataFolder?: () => void
  openLogs?: () => void
}

/** What the desktop app offers beyond HTTP (nothing in a plain browser). */
export function nativeActions(): NativeActions {
  const vbs = window.vbs
  const actions: NativeActions = {}
  // The desktop shows its own error dialog when one fails; the page has nothing to add.
  if (typeof vbs?.openDataFolder === 'function') actions.openDataFolder = () => void Promise.resolve(vbs.openDataFolder?.()).catch(() => undefined)
  if (typeof vbs?.openLogs === 'function') actions.openLogs = () => void Promise.resolve(vbs.openLogs?.()).catch(() => undefined)
  return actions
}
