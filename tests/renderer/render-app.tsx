import { cleanup, render, type RenderResult } from '@testing-library/react'
import { afterEach, vi } from 'vitest'
import { App } from '../../renderer/src/App'
import { bootstrapAuth } from '../../renderer/src/store/auth'
import { resetStores } from '../../renderer/src/store/reset'
import { FakeService } from './fake-service'

/** Starts the page as main.tsx does: the key from wherever it is, then the app. */
export function startApp(): RenderResult {
  bootstrapAuth()
  return render(<App />)
}

/**
 * A fake service with the key 'k', and the page started with that key already kept, at `hash` (a view's
 * address, `#/settings`; the overview when not given).
 */
export function startWithService(configure?: (service: FakeService) => void, hash?: string): { service: FakeService; view: RenderResult } {
  const service = new FakeService().install()
  service.acceptKey = 'k'
  configure?.(service)
  localStorage.setItem('vbs.apiKey', 'k')
  if (hash !== undefined) history.replaceState(null, '', `/${hash}`)
  return { service, view: startApp() }
}

afterEach(() => {
  cleanup()
  vi.unstubAllGlobals()
  vi.restoreAllMocks()
  vi.useRealTimers()
  localStorage.clear()
  resetStores()
  history.replaceState(null, '', '/')
})
