/** All of the dashboard's I/O: HTTP to the service, the same from the desktop window and from a LAN browser. */

/** `GET /health` (no auth). */
export interface Health {
  status: 'ok'
  version: string
  uptime_s: number
}

/** Every request gives up after this long; the caller shows the error and tries again later. */
const REQUEST_TIMEOUT_MS = 5000

/** The service's base URL: from the preload in the desktop app, else the origin that served this page. */
export function serverUrl(): string {
  return window.vbs?.serverUrl || location.origin
}

export async function getHealth(): Promise<Health> {
  const res = await fetch(new URL('/health', serverUrl()), { signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) })
  if (!res.ok) throw new Error(`GET /health answered ${res.status} ${res.statusText}`)
  return (await res.json()) as Health
}
