// @vitest-environment happy-dom
import { fireEvent, screen, waitFor, within } from '@testing-library/react'
import { describe, expect, test, vi } from 'vitest'
import { envelope, json, settings } from './fake-service'
import { startWithService } from './render-app'

// The settings have their own view, #/settings.
describe('the settings', () => {
  test('Save sends only the changed values with PUT', async () => {
    const { service } = startWithService((s) =>
      s.on('PUT', '/api/settings', (call) => json({ ...settings(), ...(call.body as object) })),
    '#/settings')
    const field = await screen.findByTestId('setting-chunk_size')
    fireEvent.change(within(field).getByRole('spinbutton'), { target: { value: '2000' } })
    fireEvent.click(within(screen.getByTestId('setting-start_at_login')).getByRole('checkbox'))
    fireEvent.click(screen.getByRole('button', { name: 'Save settings' }))
    await waitFor(() => expect(service.callsTo('PUT', '/api/settings')).toHaveLength(1))
    expect(service.callsTo('PUT', '/api/settings')[0].body).toEqual({ chunk_size: 2000, start_at_login: true })
    expect(await screen.findByText('Saved.')).toBeTruthy()
  })

  test('batch hours, idle-only, the power cap and the aging limit are saved with PUT; a bad window is refused next to its field', async () => {
    const message = `Invalid 'batch_hours': must be a daily window like "22:00-07:00" (start-end, 24-hour local time), or empty for any hour; got "nights".`
    const { service } = startWithService((s) =>
      s.on('PUT', '/api/settings', (call) => {
        const body = call.body as { batch_hours?: string }
        return body.batch_hours === 'nights' ? envelope(400, message, 'invalid_value', 'batch_hours') : json({ ...settings(), ...(call.body as object) })
      }),
    '#/settings')
    const hours = await screen.findByTestId('setting-batch_hours')
    const input = within(hours).getByRole('textbox')
    expect(input.getAttribute('placeholder')).toBe('22:00-07:00')
    fireEvent.change(input, { target: { value: ' 22:00-07:00 ' } })
    fireEvent.click(within(screen.getByTestId('setting-batch_when_idle')).getByRole('checkbox'))
    fireEvent.change(within(screen.getByTestId('setting-gpu_power_limit_w')).getByRole('spinbutton'), { target: { value: '250' } })
    fireEvent.change(within(screen.getByTestId('setting-max_queue_wait_minutes')).getByRole('spinbutton'), { target: { value: '60' } })
    fireEvent.click(screen.getByRole('button', { name: 'Save settings' }))
    await waitFor(() => expect(service.callsTo('PUT', '/api/settings')).toHaveLength(1))
    expect(service.callsTo('PUT', '/api/settings')[0].body).toEqual({ batch_hours: '22:00-07:00', batch_when_idle: true, gpu_power_limit_w: 250, max_queue_wait_minutes: 60 })
    expect(await screen.findByText('Saved.')).toBeTruthy()

    fireEvent.change(input, { target: { value: 'nights' } })
    fireEvent.click(screen.getByRole('button', { name: 'Save settings' }))
    expect((await within(hours).findByRole('alert')).textContent).toBe(message)
    expect(input.getAttribute('aria-invalid')).toBe('true')
  })

  test("a 400 shows the service's message next to the field it names", async () => {
    const message = 'Invalid settings: "thermalResumeC" (90) must be below "thermalPauseC" (83).'
    startWithService((s) => s.on('PUT', '/api/settings', () => envelope(400, message, 'invalid_value', 'thermal_resume_c')), '#/settings')
    const field = await screen.findByTestId('setting-thermal_resume_c')
    const input = within(field).getByRole('spinbutton')
    fireEvent.change(input, { target: { value: '90' } })
    fireEvent.click(screen.getByRole('button', { name: 'Save settings' }))
    expect((await within(field).findByRole('alert')).textContent).toBe(message)
    expect(input.getAttribute('aria-invalid')).toBe('true')
    expect(within(screen.getByTestId('setting-thermal_pause_c')).queryByRole('alert')).toBeNull()
  })

  test('a field set by an environment variable is read-only and names it; restart needed is shown', async () => {
    startWithService((s) =>
      s.on('GET', '/api/settings', () => json(settings({ port: 5000, locked: { port: 'VBS_PORT' }, restart_required: true }))),
    '#/settings')
    const field = await screen.findByTestId('setting-port')
    expect(within(field).getByRole('spinbutton').hasAttribute('readonly')).toBe(true)
    expect(field.textContent).toContain('VBS_PORT')
    expect(screen.getByTestId('restart-required').textContent).toContain('Restart needed')
  })

  test('the key is masked until revealed, copies, and after Regenerate the new key is used for every call', async () => {
    const writeText = vi.spyOn(navigator.clipboard, 'writeText').mockResolvedValue()
    const { service } = startWithService((s) =>
      s.on('POST', '/api/settings/api-key', () => {
        s.acceptKey = 'fresh'
        return json({ api_key: 'fresh', api_key_origin: '/data/api-key' })
      }),
    '#/settings')
    const key = (await screen.findByTestId('api-key')) as HTMLInputElement
    expect(key.value).not.toContain('k')
    fireEvent.click(screen.getByRole('button', { name: 'Show' }))
    expect(key.value).toBe('k')

    fireEvent.click(screen.getByRole('button', { name: 'Copy dashboard link' }))
    // The link another machine can open: the service's LAN address, not this page's (loopback in the window).
    await waitFor(() => expect(writeText).toHaveBeenCalledWith('http://192.168.1.20:4080/#key=k'))

    fireEvent.click(screen.getByRole('button', { name: 'Regenerate key…' }))
    fireEvent.click(screen.getByRole('button', { name: 'Regenerate now' }))
    await waitFor(() => expect(service.callsTo('POST', '/api/settings/api-key')).toHaveLength(1))
    await waitFor(() => expect(key.value).toBe('fresh'))
    const before = service.calls.length
    fireEvent.click(screen.getByRole('link', { name: 'Overview' }))
    fireEvent.click(await screen.findByRole('button', { name: 'Pause all' }))
    await waitFor(() => expect(service.calls.length).toBeGreaterThan(before))
    expect(service.calls.slice(before).every((c) => c.authorization === 'Bearer fresh')).toBe(true)
    expect(localStorage.getItem('vbs.apiKey')).toBe('fresh')
    expect(screen.queryByRole('button', { name: 'Use this key' })).toBeNull()
  })
})
