// @vitest-environment happy-dom
import { fireEvent, screen, waitFor, within } from '@testing-library/react'
import { describe, expect, test } from 'vitest'
import { envelope, installFakeXhr, json, models, xhrRequests } from './fake-service'
import { startWithService } from './render-app'

const line = (id: string): string =>
  JSON.stringify({ custom_id: id, method: 'POST', url: '/v1/chat/completions', body: { model: 'gpt-4o-mini', messages: [{ role: 'user', content: `hi ${id}` }] } })
const FILE = () => new File([[line('a'), line('b'), line('c')].join('\n')], 'ab.jsonl')

/** models.yaml with five models (the service takes 2 to 4 for a comparison). */
const fiveModels = () => [...models(), { ...models()[1], id: 'qwen3-8b', aliases: [], description: 'Qwen3 8B' }, { ...models()[1], id: 'mistral-7b', aliases: [], description: null }, { ...models()[1], id: 'phi-4', aliases: [], description: null }]

async function picker(): Promise<HTMLElement> {
  fireEvent.change(screen.getByTestId('file-input'), { target: { files: [FILE()] } })
  const open = await screen.findByRole('button', { name: 'Run on several models' })
  await waitFor(() => expect(open).toHaveProperty('disabled', false))
  fireEvent.click(open)
  return screen.findByTestId('run-on-models')
}

describe('"Run on several models" in the drop panel', () => {
  test('uploads the file, POSTs the comparison with the models picked, and opens it', async () => {
    installFakeXhr()
    const { service } = startWithService()
    await screen.findByRole('heading', { name: 'Engine' })
    await waitFor(() => expect(service.callsTo('GET', '/v1/models')).toHaveLength(1))
    const panel = await picker()
    const run = within(panel).getByRole('button', { name: 'Run on the models picked' })
    expect(run).toHaveProperty('disabled', true)
    fireEvent.click(within(panel).getByRole('checkbox', { name: /gemma-3-12b/ }))
    fireEvent.click(within(panel).getByRole('checkbox', { name: /llama-3\.1-8b/ }))
    fireEvent.click(within(panel).getByRole('button', { name: 'Run on 2 models' }))

    await waitFor(() => expect(xhrRequests).toHaveLength(1))
    expect(xhrRequests[0].url).toBe('/v1/files')
    expect((xhrRequests[0].body?.get('file') as File).name).toBe('ab.jsonl')
    expect(service.callsTo('POST', '/api/comparisons')).toHaveLength(0) // not before the upload is done
    xhrRequests[0].xhr.respond(200, { id: 'file-77', object: 'file', bytes: 300, created_at: 1, filename: 'ab.jsonl', purpose: 'batch' })

    await waitFor(() => expect(service.callsTo('POST', '/api/comparisons')).toHaveLength(1))
    expect(service.callsTo('POST', '/api/comparisons')[0].body).toEqual({
      input_file_id: 'file-77',
      models: ['gemma-3-12b', 'llama-3.1-8b'],
      name: 'ab.jsonl',
      endpoint: '/v1/chat/completions',
    })
    await waitFor(() => expect(location.hash).toBe('#/compare/cmp_1'))
    const figures = await screen.findByTestId('comparison-figures')
    expect(within(figures).getByTestId('arm-gemma-3-12b').textContent).toContain('batch_cmp1_1')
    expect(within(figures).getByTestId('arm-llama-3.1-8b').textContent).toContain('validating')
    expect(service.callsTo('POST', '/v1/batches')).toHaveLength(0)
  })

  test('2 to 4 models: a fifth cannot be picked', async () => {
    const { service } = startWithService((s) => s.on('GET', '/v1/models', () => json({ object: 'list', data: fiveModels() })))
    await waitFor(() => expect(service.callsTo('GET', '/v1/models')).toHaveLength(1))
    const panel = await picker()
    const boxes = within(panel).getAllByRole('checkbox') as HTMLInputElement[]
    expect(boxes).toHaveLength(5)
    for (const b of boxes.slice(0, 4)) fireEvent.click(b)
    expect(boxes[4].disabled).toBe(true)
    expect(within(panel).getByRole('button', { name: 'Run on 4 models' })).toHaveProperty('disabled', false)
  })

  test("the service's refusal is shown, and nothing is opened", async () => {
    installFakeXhr()
    const { service } = startWithService((s) => s.on('POST', '/api/comparisons', () => envelope(429, 'Too many active batches (10): the comparison needs 2 more.', 'too_many_batches')))
    await waitFor(() => expect(service.callsTo('GET', '/v1/models')).toHaveLength(1))
    const panel = await picker()
    fireEvent.click(within(panel).getByRole('checkbox', { name: /gemma-3-12b/ }))
    fireEvent.click(within(panel).getByRole('checkbox', { name: /llama-3\.1-8b/ }))
    fireEvent.click(within(panel).getByRole('button', { name: 'Run on 2 models' }))
    await waitFor(() => expect(xhrRequests).toHaveLength(1))
    xhrRequests[0].xhr.respond(200, { id: 'file-1', object: 'file', bytes: 1, created_at: 1, filename: 'ab.jsonl', purpose: 'batch' })
    const error = await screen.findByTestId('upload-error')
    expect(error.textContent).toContain('The comparison was not created')
    expect(error.textContent).toContain('Too many active batches (10)')
    expect(location.hash).toBe('')
  })

  test('the Compare view offers the same from a file, without "Submit batch"', async () => {
    installFakeXhr()
    const { service } = startWithService(undefined, '#/compare')
    const card = await screen.findByTestId('new-comparison')
    await waitFor(() => expect(service.callsTo('GET', '/v1/models')).toHaveLength(1))
    fireEvent.change(within(card).getByTestId('file-input'), { target: { files: [FILE()] } })
    const panel = await within(card).findByTestId('run-on-models')
    expect(within(card).queryByRole('button', { name: 'Submit batch' })).toBeNull()
    fireEvent.click(within(panel).getByRole('checkbox', { name: /gemma-3-12b/ }))
    fireEvent.click(within(panel).getByRole('checkbox', { name: /llama-3\.1-8b/ }))
    fireEvent.click(within(panel).getByRole('button', { name: 'Run on 2 models' }))
    await waitFor(() => expect(xhrRequests).toHaveLength(1))
    xhrRequests[0].xhr.respond(200, { id: 'file-9', object: 'file', bytes: 1, created_at: 1, filename: 'ab.jsonl', purpose: 'batch' })
    await waitFor(() => expect(location.hash).toBe('#/compare/cmp_1'))
  })
})
