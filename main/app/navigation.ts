// What the dashboard window may open. Pure, so the rules are tested without Electron.

/**
 * - 'allow': stays in the window (the service's own origin: the dashboard and its links);
 * - 'external': an http(s) page elsewhere, opened in the system browser instead;
 * - 'deny': anything else (file:, javascript:, data:, custom schemes, unparsable text).
 */
export type NavigationDecision = 'allow' | 'external' | 'deny'

export function navigationDecision(target: string, serviceOrigin: string): NavigationDecision {
  let url: URL
  try {
    url = new URL(target)
  } catch {
    return 'deny'
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return 'deny'
  if (url.origin === serviceOrigin) return 'allow'
  // A link with credentials in it (http://user:pass@host) is a phishing shape; nothing here makes one.
  if (url.username || url.password) return 'deny'
  return 'external'
}

/** The parts of Electron's WebFrameMain that decide whether an IPC message may be answered. */
export interface SenderFrame {
  origin: string
  /** True for the top-level document (WebFrameMain.parent === null). */
  isMainFrame: boolean
  /** True once the frame was navigated away or closed (WebFrameMain.detached). */
  detached: boolean
}

/**
 * Whether an IPC message comes from the dashboard itself: the main frame of our window, showing a page of the
 * service's origin. Anything else (a disposed frame, an iframe, a page of another origin) gets nothing: the
 * connection answer holds the API key.
 */
export function isTrustedSender(frame: SenderFrame | null, serviceOrigin: string): boolean {
  return frame !== null && !frame.detached && frame.isMainFrame && frame.origin === serviceOrigin
}
