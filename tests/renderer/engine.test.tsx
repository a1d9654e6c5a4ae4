// @vitest-environment happy-dom
import { fireEvent, screen, waitFor, within } from '@testing-library/react'
import { describe, expect, test } from 'vitest'
import type { WarmEngine } from '../../renderer/src/types'
import { engine, envelope, json } from './fake-service'
import { startWithService } from './render-app'

const NOT_FOUND =
  'vLLM not found (looked for vllm on PATH: /usr/local/bin:/usr/bin): install it with pip install vllm or set VBS_VLLM_BIN'

describe('the engine section', () => {
  test('a missing vLLM is shown prominently, with what to do', async () => {
    startWithService((s) => s.on('GET', '/api/engine', () => json(engine({ state: 'failed', pid: null, port: null, uptimeS: null, lastError: NOT_FOUND, logTail: [] }))))
    const error = await screen.findByTestId('engine-error')
    expect(error.getAttribute('role')).toBe('alert')
    expect(error.textContent).toContain(NOT_FOUND)
    expect(error.textContent).toContain('pip install vllm')
    expect(error.textContent).toContain('VBS_VLLM_BIN')
    expect(screen.getByTestId('engine-state').textContent).toBe('failed')
    expect(screen.getByRole('button', { name: 'Start' })).toBeTruthy()
  })

  test('state, loading phase and log tail', async () => {
    startWithService((s) =>
      s.on('GET', '/api/engine', () => json(engine({ state: 'starting', phase: 'loading weights', uptimeS: null, logTail: ['INFO Loading safetensors checkpoint shards: 40%'] }))),
    )
    expect((await screen.findByTestId('engine-phase')).textContent).toBe('loading weights')
    expect(screen.getByTestId('engine-state').textContent).toBe('starting')
    const section = screen.getByTestId('engine')
    expect(within(section).getByText(/Engine log \(1 recent lines?\)/)).toBeTruthy()
    expect(section.textContent).toContain('Loading safetensors checkpoint shards: 40%')
  })

  test('switching models posts the model; a 503 model_busy message is shown', async () => {
    const { service } = startWithService((s) =>
      s.on('POST', '/api/engine/switch', () =>
        envelope(503, "The GPU is busy: batch batch_abc runs on 'gemma-3-12b' (9,012 of 20,000 requests done). Try again later.", 'model_busy'),
      ),
    )
    const select = await screen.findByRole('combobox')
    await waitFor(() => expect(within(select).getAllByRole('option')).toHaveLength(2))
    fireEvent.change(select, { target: { value: 'llama-3.1-8b' } })
    fireEvent.click(screen.getByRole('button', { name: 'Switch model' }))
    await waitFor(() => expect(service.callsTo('POST', '/api/engine/switch')).toHaveLength(1))
    expect(service.callsTo('POST', '/api/engine/switch')[0].body).toEqual({ model: 'llama-3.1-8b' })
    expect((await screen.findByTestId('engine-action-error')).textContent).toContain('The GPU is busy: batch batch_abc')
  })

  test('Stop and Start call their endpoints; engine.state events update the state', async () => {
    const { service } = startWithService((s) => {
      s.on('POST', '/api/engine/stop', () => json(engine({ state: 'stopped', pid: null, port: null, uptimeS: null })))
      s.on('POST', '/api/engine/start', () => json(engine({ state: 'starting', phase: 'starting process', uptimeS: null }), 202))
    })
    await waitFor(() => expect(screen.getByTestId('engine-state').textContent).toBe('ready'))
    fireEvent.click(screen.getByRole('button', { name: 'Stop' }))
    await waitFor(() => expect(screen.getByTestId('engine-state').textContent).toBe('stopped'))
    expect(service.callsTo('POST', '/api/engine/stop')).toHaveLength(1)
    fireEvent.click(screen.getByRole('button', { name: 'Start' }))
    await waitFor(() => expect(service.callsTo('POST', '/api/engine/start')).toHaveLength(1))
    expect(service.callsTo('POST', '/api/engine/start')[0].body).toEqual({})
    await waitFor(() => expect(screen.getByTestId('engine-state').textContent).toBe('starting'))
    await waitFor(() => expect(service.openStreams).toBe(1))
    service.push('engine.state', { from: 'starting', status: engine({ state: 'ready' }) })
    await waitFor(() => expect(screen.getByTestId('engine-state').textContent).toBe('ready'))
  })

  test('the kind of engine is shown, for the current model and every model in the list', async () => {
    startWithService((s) => {
      s.on('GET', '/api/engine', () => json(engine({ kind: 'remote', model: 'elsewhere', pid: null, port: null, remoteUrl: 'https://llm.example.org/v1' })))
      s.on('GET', '/v1/models', () =>
        json({ object: 'list', data: [
          { id: 'elsewhere', engine: 'remote', loaded: true, aliases: [], max_model_len: null, description: null },
          { id: 'qwen2.5-0.5b-instruct', engine: 'llama.cpp', loaded: false, aliases: [], max_model_len: 4096, description: null },
        ] }),
      )
    })
    expect((await screen.findByTestId('engine-kind')).textContent).toBe('remote server at https://llm.example.org/v1')
    const select = await screen.findByRole('combobox')
    await waitFor(() => expect(within(select).getAllByRole('option')).toHaveLength(2))
    expect(within(select).getAllByRole('option').map((o) => o.textContent)).toEqual([
      'elsewhere · remote server (loaded)',
      'qwen2.5-0.5b-instruct · llama.cpp · 4,096 tokens',
    ])
  })

  test('a model asleep in the warm pool is marked in the pool list and the model menu, live from engine.state events', async () => {
    const warm = (over: Partial<WarmEngine> & Pick<WarmEngine, 'model' | 'state'>): WarmEngine => ({ kind: 'vllm', ramGb: 6.5, pid: 4242, port: 41000, lastUsedAt: Date.now(), ...over })
    const { service } = startWithService((s) =>
      s.on('GET', '/api/engine', () =>
        json(engine({ model: 'gemma-3-12b', pool: [warm({ model: 'gemma-3-12b', state: 'ready' }), warm({ model: 'llama-3.1-8b', state: 'sleeping', pid: 4343, ramGb: 8 })] })),
      ),
    )
    const asleep = await screen.findByTestId('pool-llama-3.1-8b')
    expect(asleep.textContent).toContain('asleep')
    expect(asleep.textContent).toContain('8 GiB RAM')
    expect(screen.getByTestId('pool-gemma-3-12b').textContent).not.toContain('asleep')
    expect(screen.getByTestId('engine-pool').textContent).toContain('8 GiB of 16 GiB host RAM in use')
    const select = await screen.findByRole('combobox')
    await waitFor(() => expect(within(select).getAllByRole('option')).toHaveLength(2))
    expect(within(select).getAllByRole('option').map((o) => o.textContent)).toEqual([
      'gemma-3-12b · vLLM (loaded) · 8,192 tokens',
      'llama-3.1-8b · vLLM (asleep) · 16,384 tokens',
    ])
    // The switch back: llama wakes, gemma goes to sleep.
    await waitFor(() => expect(service.openStreams).toBe(1))
    const waking = engine({ state: 'waking', model: 'llama-3.1-8b', phase: 'loading weights', pool: [warm({ model: 'llama-3.1-8b', state: 'waking' }), warm({ model: 'gemma-3-12b', state: 'sleeping' })] })
    service.push('engine.state', { from: 'sleeping', status: waking })
    await waitFor(() => expect(screen.getByTestId('engine-state').textContent).toBe('waking'))
    expect(screen.getByTestId('pool-gemma-3-12b').textContent).toContain('asleep')
    expect(screen.getByTestId('pool-llama-3.1-8b').textContent).not.toContain('asleep')
    expect(screen.getByTestId('engine-phase').textContent).toContain('from sleep')
    // Nothing asleep: no pool list.
    service.push('engine.state', { from: 'waking', status: engine({ model: 'llama-3.1-8b', pool: [warm({ model: 'llama-3.1-8b', state: 'ready' })] }) })
    await waitFor(() => expect(screen.queryByTestId('engine-pool')).toBeNull())
  })

  test('a model download shows its progress, live from model.download events', async () => {
    const MB = 1024 * 1024
    const progress = (received: number) => ({
      model: 'qwen2.5-0.5b-instruct', file: '/data/models/q.gguf', url: 'https://huggingface.co/x', receivedBytes: received * MB,
      totalBytes: 400 * MB, bytesPerSecond: 20 * MB, etaSeconds: (400 - received) / 20, state: 'downloading' as const, error: null,
    })
    const { service } = startWithService((s) =>
      s.on('GET', '/api/engine', () => json(engine({ kind: 'llama.cpp', state: 'starting', model: 'qwen2.5-0.5b-instruct', phase: 'downloading model', pid: null, port: null, uptimeS: null, download: progress(100) }))),
    )
    const box = await screen.findByTestId('engine-download')
    expect(box.textContent).toContain('104.9 MB of 419.4 MB')
    expect(box.textContent).toContain('(25%)')
    await waitFor(() => expect(service.openStreams).toBe(1))
    service.push('model.download', progress(300))
    await waitFor(() => expect(screen.getByTestId('engine-download').textContent).toContain('(75%)'))
    expect(screen.getByTestId('engine-kind').textContent).toBe('llama.cpp')
    service.push('model.download', { ...progress(400), state: 'done', etaSeconds: 0 })
    await waitFor(() => expect(screen.queryByTestId('engine-download')).toBeNull())
  })
})
