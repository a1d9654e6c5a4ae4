/**
 * How every call reaches the service: same-origin fetch with the key as `Authorization: Bearer` (the same from the
 * desktop window and from a browser on the LAN), a timeout, and failures turned into ApiError (the service's error
 * envelope, or status 0 when it could not be reached), with a 401 announced to whoever listens. ./endpoints,
 * ./download, ./upload and ./event-stream build on it; stores call those, not this.
 */
import { isErrorEnvelope } from '../../../main/contract/errors'
import { serviceUrl } from './bridge'

/** Every request gives up after this long; the caller shows the error and the next poll tries again. */
const REQUEST_TIMEOUT_MS = 15_000

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

export function unreachableMessage(): string {
  return `Cannot reach the service at ${serviceUrl()}: is it running? (npm run serve, or the tray app)`
}

// ---- the key the calls send, and the 401 announcement ----------------------------------------------------

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

export function authHeaders(): Record<string, string> {
  return apiKey ? { Authorization: `Bearer ${apiKey}` } : {}
}

// ---- errors ---------------------------------------------------------------------------------------------


/** The error a failed response stands for (and the 401 announcement). */
export function errorFromBody(status: number, text: string, what: string): ApiError {
  let parsed: unknown = null
  try {
    parsed = JSON.parse(text)
  } catch {
    // not JSON: a proxy's page, or nothing
  }
  const err = isErrorEnvelope(parsed)
    ? new ApiError(status, parsed.error.message, parsed.error.code ?? null, parsed.error.param ?? null)
    : new ApiError(status, `${what} answered ${status}${text ? `: ${text.slice(0, 200)}` : ''}`)
  if (status === 401) unauthorized(err.message)
  return err
}

/** The error for a request that got no answer: timed out, or the service could not be reached. */
export function transportError(err: unknown, timeoutMs: number): ApiError {
  if (err instanceof DOMException && err.name === 'TimeoutError') {
    return new ApiError(0, `The service at ${serviceUrl()} did not answer within ${Math.round(timeoutMs / 1000)} s. Try again.`, 'timeout')
  }
  return new ApiError(0, unreachableMessage(), 'unreachable')
}

// ---- requests -------------------------------------------------------------------------------------------

/** Sends a request (a JSON body when `body` is given); resolves with the response only when it is a 2xx. */
export async function send(method: string, path: string, body: unknown, timeoutMs: number): Promise<Response> {
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

/** A JSON call with the ordinary timeout: resolves with the parsed answer. */
export async function call<T>(method: string, path: string, body?: unknown): Promise<T> {
  const res = await send(method, path, body, REQUEST_TIMEOUT_MS)
  try {
    return (await res.json()) as T
  } catch {
    throw new ApiError(res.status, `${method} ${path} answered with something that is not JSON.`)
  }
}
