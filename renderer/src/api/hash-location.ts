/** The address bar's hash, where the dashboard keeps its route (see ../route.ts): reading it, setting it, and its changes. */

export function readHash(): string {
  return location.hash
}

/** Sets the hash as a new history entry (Back returns to the previous view). */
export function pushHash(hash: string): void {
  if (location.hash !== hash) location.hash = hash
}

/**
 * Sets the hash in place of the current one: no new history entry, no `hashchange` (a search typed, a page turned:
 * the address follows the view, Back still leaves it).
 */
export function replaceHash(hash: string): void {
  if (location.hash !== hash) history.replaceState(history.state, '', `${location.pathname}${location.search}${hash}`)
}

/** Calls `listener` on every change of the hash (a link, Back/Forward, a typed address); returns the unsubscribe. */
export function onHashChange(listener: () => void): () => void {
  window.addEventListener('hashchange', listener)
  return () => window.removeEventListener('hashchange', listener)
}
