// @vitest-environment happy-dom
import { screen, waitFor, within } from '@testing-library/react'
import { describe, expect, test } from 'vitest'
import { gpu, health, json } from './fake-service'
import { startWithService } from './render-app'

const REASON = 'paused: GPU 86 °C (pauses at 83 °C, resumes at 75 °C)'

describe('the GPU section', () => {
  test('shows the name, the live temperature, the chart with both thresholds, VRAM and utilization', async () => {
    startWithService()
    const temp = await screen.findByTestId('gpu-temperature')
    expect(temp.textContent).toBe('64 °C')
    const section = screen.getByTestId('gpu')
    expect(section.textContent).toContain('NVIDIA GeForce RTX 4080')
    const chart = within(section).getByTestId('temperature-chart')
    expect(chart.querySelectorAll('polyline').length).toBeGreaterThan(0)
    expect(within(section).getByTestId('pause-threshold').textContent).toContain('pause 83 °C')
    expect(within(section).getByTestId('resume-threshold').textContent).toContain('resume 75 °C')
    expect(within(section).getByTestId('gpu-vram').getAttribute('aria-valuenow')).toBe('31') // 5120 / 16376
    expect(within(section).getByTestId('gpu-utilization').textContent).toBe('40%')
    expect(screen.queryByTestId('thermal-banner')).toBeNull()
  })

  test('a degraded service says why in the header, in words: a full disk, a scheduler that stopped', async () => {
    startWithService((s) => s.on('GET', '/health', () => json({ ...health(), status: 'degraded', problems: ['disk_full', 'loop_not_beating'] })))
    await waitFor(() => expect(document.body.textContent).toContain('degraded: the data disk is full: batches are held until space is freed; the batch scheduler is not running'))
  })

  test('while batches are paused for heat, a banner says so with the reason', async () => {
    startWithService((s) => s.on('GET', '/api/gpu', () => json(gpu({ thermal: { paused: true, reason: REASON, pause_c: 83, resume_c: 75 } }))))
    const banner = await screen.findByTestId('thermal-banner')
    expect(banner.getAttribute('role')).toBe('alert')
    expect(banner.textContent).toContain(REASON)
    expect(banner.textContent).toContain('75 °C')
  })

  test('thermal and gpu.sample events turn the banner on and off and move the temperature', async () => {
    const { service } = startWithService()
    await screen.findByTestId('gpu-temperature')
    await waitFor(() => expect(service.openStreams).toBe(1))
    const sample = gpu().current!
    service.push('gpu.sample', { ...sample, at: Date.now(), temperatureC: 86 })
    service.push('thermal', { paused: true, changed: true, reason: REASON })
    expect((await screen.findByRole('alert')).textContent).toContain(REASON)
    await waitFor(() => expect(screen.getByTestId('gpu-temperature').textContent).toBe('86 °C'))
    service.push('thermal', { paused: false, changed: true, reason: null })
    await waitFor(() => expect(screen.queryByTestId('thermal-banner')).toBeNull())
  })

  test('without an NVIDIA GPU it says so, with the reason', async () => {
    startWithService((s) =>
      s.on('GET', '/api/gpu', () =>
        json(
          gpu({
            status: { available: false, reason: 'no NVIDIA GPU found: nvidia-smi is not installed (not found on PATH); checking again every 60 s' },
            info: { name: null, driverVersion: null, vramTotalMiB: null, pciBusId: null, cpu: { brand: null, cores: null }, memoryTotalBytes: null },
            current: null,
            history: [],
          }),
        ),
      ),
    )
    const box = await screen.findByTestId('gpu-unavailable')
    expect(box.textContent).toContain('No NVIDIA GPU found')
    expect(box.textContent).toContain('nvidia-smi is not installed')
    expect(screen.queryByTestId('gpu-temperature')).toBeNull()
  })

  test('when the service cannot be reached, the page says where it looked and what to do', async () => {
    startWithService((s) =>
      s.on('GET', '/health', () => {
        throw new TypeError('Failed to fetch')
      }),
    )
    const banner = await screen.findByTestId('service-unreachable')
    expect(banner.textContent).toContain(`Cannot reach the service at ${location.origin}: is it running? (npm run serve, or the tray app)`)
  })
})
