/**
 * What the desktop app's preload hands the page as `window.vbs` (see preload/api.ts): the service's address, the
 * key, and two native actions. In a browser on the LAN `window.vbs` is absent and each of these falls back or
 * offers nothing. The only module that reads `window.vbs`.
 */

/** The service's address, for messages (requests themselves go to this page's own origin). */
export function serviceUrl(): string {
  return window.vbs?.serverUrl || location.origin
}

/** The key the desktop app's preload hands over, if this page runs in its window. */
export function desktopKey(): string | null {
  return window.vbs?.apiKey || null
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
