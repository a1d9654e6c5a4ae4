/**
 * Where the API key is kept between visits (localStorage), and the dashboard link that carries it in the address
 * (`#key=<key>`): making that link, and taking the key out of the address on arrival. The key the requests send
 * is set in ./transport (setApiKey); the desktop's own key comes from ./bridge (desktopKey).
 */

import { DASHBOARD_KEY_PARAM, dashboardLink as linkWithKey } from '../../../main/contract/share-links'

const KEY_STORAGE = 'vbs.apiKey'

/**
 * A key given in the address as `#key=<key>` (the "Copy dashboard link" link). It is taken out of the
 * address bar at once, so it does not stay in the history or get shared with a screenshot.
 */
export function takeKeyFromFragment(): string | null {
  const hash = location.hash.replace(/^#/, '')
  if (hash === '') return null
  // `#key=<key>`, or after a view's address and its parameters: `#/jobs/<id>?q=a&key=<key>`, `#/jobs/<id>&key=<key>`.
  const parts = hash.split(/[?&]/)
  const at = parts.findIndex((p) => p.startsWith(`${DASHBOARD_KEY_PARAM}=`))
  if (at === -1) return null
  let key: string
  try {
    key = decodeURIComponent(parts[at].slice(DASHBOARD_KEY_PARAM.length + 1)).trim()
  } catch {
    key = ''
  }
  parts.splice(at, 1)
  // What is left: the view's path, then its parameters after `?`.
  const rest = at === 0 ? parts.join('&') : `${parts[0]}${parts.length > 1 ? `?${parts.slice(1).join('&')}` : ''}`
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
  return linkWithKey(shareUrl || location.origin, key)
}
