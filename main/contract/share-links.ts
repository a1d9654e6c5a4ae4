// The addresses to give to others (the tray's copies, the dashboard's own "copy link"), and the link format the
// window reads its key from. Pure and runtime-neutral: the network interfaces are handed in
// (os.networkInterfaces() in the service).

/** What is needed of one of os.networkInterfaces()' addresses. */
export interface InterfaceAddress {
  family: string | number
  internal: boolean
  address: string
}

const WILDCARDS = new Set(['0.0.0.0', '::', ''])

/**
 * The base URL to give to someone else: when the service listens on every interface, the machine's first LAN
 * IPv4 address (what a client on the LAN must use, and it works from this machine too); otherwise the address
 * the service listens on (`serviceUrl`, e.g. loopback only).
 */
export function shareableBaseUrl(
  serviceUrl: string,
  listenHost: string,
  interfaces: Readonly<Record<string, readonly InterfaceAddress[] | undefined>>,
): string {
  if (!WILDCARDS.has(listenHost)) return serviceUrl
  const names = Object.keys(interfaces).sort()
  for (const name of names) {
    for (const info of interfaces[name] ?? []) {
      // Link-local addresses (169.254/16) are not reachable from an ordinary LAN.
      if (info.family === 'IPv4' && !info.internal && !info.address.startsWith('169.254.')) {
        return `http://${info.address}:${new URL(serviceUrl).port}`
      }
    }
  }
  return serviceUrl
}

/** What OpenAI SDKs take as `base_url`. */
export function apiUrl(baseUrl: string): string {
  return `${baseUrl.replace(/\/+$/, '')}/v1`
}

/**
 * The dashboard with the key in the fragment: the fragment never leaves the browser (not sent to the server,
 * not in its logs), and the page takes the key from it.
 */
export function dashboardLink(baseUrl: string, apiKey: string): string {
  return `${baseUrl.replace(/\/+$/, '')}/#${DASHBOARD_KEY_PARAM}=${encodeURIComponent(apiKey)}`
}

/** The fragment parameter of a dashboard link that holds the key. */
export const DASHBOARD_KEY_PARAM = 'key'
