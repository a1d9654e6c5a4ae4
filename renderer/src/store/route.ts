import { create } from 'zustand'
import { onHashChange, pushHash, readHash, replaceHash } from '../api/hash-location'
import { formatHash, parseHash, sameRoute, type Route } from '../route'

interface RouteState {
  route: Route
  /** Shows another view and puts it in the address (a new history entry). */
  navigate: (route: Route) => void
  /**
   * Puts where the shown view stands (its search, filters, page, open request) in the address, in place of the
   * current entry: a reload or a copied link opens it there, and typing does not fill the history.
   */
  replace: (route: Route) => void
  /** Reads the view from the address (at start, and on every hash change). */
  sync: () => void
}

/** Which view the window shows: the URL hash, so a view can be linked, reloaded and left with Back. */
export const useRouteStore = create<RouteState>()((set, get) => ({
  route: parseHash(readHash()),
  navigate: (route) => {
    if (!sameRoute(route, get().route)) set({ route })
    pushHash(formatHash(route))
  },
  replace: (route) => {
    if (!sameRoute(route, get().route)) set({ route })
    replaceHash(formatHash(route))
  },
  sync: () => {
    const route = parseHash(readHash())
    if (!sameRoute(route, get().route)) set({ route })
  },
}))

/** Follows the address from now on; returns the function that stops it. */
export function startRouting(): () => void {
  useRouteStore.getState().sync()
  return onHashChange(() => useRouteStore.getState().sync())
}
