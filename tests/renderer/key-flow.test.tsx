// @vitest-environment happy-dom
import { fireEvent, screen, waitFor } from '@testing-library/react'
import { describe, expect, test, vi } from 'vitest'
import { FakeService } from './fake-service'
import { startApp } from './render-app'

function service(key: string): FakeService {
  const s = new FakeService().install()
  s.acceptKey = key
  return s
}

describe('the API key', () => {
  test('a key in the address (#key=) is used for every call, kept, and taken out of the address bar', async () => {
    const s = service('s3cret')
    history.replaceState(null, '', '/#key=s3cret')
    startApp()
    await waitFor(() => expect(s.callsTo('GET', '/api/engine').length).toBeGreaterThan(0))
    await screen.findByRole('heading', { name: 'Engine' })
    for (const path of ['/api/engine', '/api/gpu', '/api/batches', '/api/settings', '/v1/models', '/api/events']) {
      await waitFor(() => expect(s.callsTo('GET', path)[0]?.authorization).toBe('Bearer s3cret'))
    }
    expect(s.calls.every((c) => c.authorization === 'Bearer s3cret')).toBe(true)
    expect(localStorage.getItem('vbs.apiKey')).toBe('s3cret')
    expect(location.hash).toBe('')
    expect(location.href).not.toContain('s3cret')
  })

  test('a kept key is used on the next visit', async () => {
    const s = service('kept')
    localStorage.setItem('vbs.apiKey', 'kept')
    startApp()
    await waitFor(() => expect(s.callsTo('GET', '/api/engine')[0]?.authorization).toBe('Bearer kept'))
  })

  test('the desktop window key (window.vbs) comes first, and its native actions get buttons', async () => {
    const s = service('desk')
    localStorage.setItem('vbs.apiKey', 'stale')
    const openLogs = vi.fn()
    Object.defineProperty(window, 'vbs', { value: { serverUrl: 'http://127.0.0.1:4080', apiKey: 'desk', openLogs }, configurable: true })
    try {
      startApp()
      await waitFor(() => expect(s.callsTo('GET', '/api/engine')[0]?.authorization).toBe('Bearer desk'))
      fireEvent.click(screen.getByRole('button', { name: 'Open logs' }))
      expect(openLogs).toHaveBeenCalledOnce()
      expect(screen.queryByRole('button', { name: 'Open data folder' })).toBeNull()
    } finally {
      Reflect.deleteProperty(window, 'vbs')
    }
  })

  test('without a key the page asks once, then sends the key typed', async () => {
    const s = service('typed')
    startApp()
    const input = await screen.findByLabelText('API key')
    expect(s.calls.filter((c) => c.path !== '/health')).toHaveLength(0)
    fireEvent.change(input, { target: { value: 'typed' } })
    fireEvent.click(screen.getByRole('button', { name: 'Use this key' }))
    await screen.findByRole('heading', { name: 'Engine' })
    await waitFor(() => expect(s.callsTo('GET', '/api/engine')[0]?.authorization).toBe('Bearer typed'))
    expect(localStorage.getItem('vbs.apiKey')).toBe('typed')
  })

  test('a 401 forgets the key and asks again, saying why; the new key is then used', async () => {
    const s = service('new-key')
    localStorage.setItem('vbs.apiKey', 'old-key')
    startApp()
    const alert = await screen.findByRole('alert')
    expect(alert.textContent).toContain('did not accept the API key')
    expect(alert.textContent).toContain('Incorrect API key provided')
    expect(localStorage.getItem('vbs.apiKey')).toBeNull()

    fireEvent.change(screen.getByLabelText('API key'), { target: { value: 'new-key' } })
    fireEvent.click(screen.getByRole('button', { name: 'Use this key' }))
    await screen.findByRole('heading', { name: 'Engine' })
    await waitFor(() => expect(s.calls.some((c) => c.path === '/api/engine' && c.authorization === 'Bearer new-key')).toBe(true))
    expect(screen.queryByRole('button', { name: 'Use this key' })).toBeNull()
  })
})
