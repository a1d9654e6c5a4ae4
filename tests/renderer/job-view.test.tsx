// @vitest-environment happy-dom
import { cleanup, fireEvent, screen, waitFor, within } from '@testing-library/react'
import { describe, expect, test } from 'vitest'
import { SEARCH_DEBOUNCE_MS } from '../../renderer/src/components/SearchBox'
import type { ResultDetail } from '../../main/contract'
import { LIVE_REFRESH_MS, RESULTS_PAGE_SIZE } from '../../renderer/src/store/job-view'
import { queryOf, job, result, type FakeService } from './fake-service'
import { resetStores } from '../../renderer/src/store/reset'
import { startApp, startWithService } from './render-app'

const N = 120

/** 120 results: every 10th failed, every 7th cut short by the length limit, the last 20 still pending. */
function results(): ResultDetail[] {
  return Array.from({ length: N }, (_, i) => {
    const id = `q${i + 1}`
    if (i >= N - 20) return result({ line: i + 1, custom_id: id, state: 'pending', status_code: null, latency_ms: null, usage: null, finish_reason: null, preview: null, response: null, started_at: null, finished_at: null, attempts: 0 })
    if (i % 10 === 9) return result({ line: i + 1, custom_id: id, state: 'failed', status_code: 500, finish_reason: null, preview: 'engine answered 500', response: null, error: { code: 'server_error', message: 'engine answered 500 after 3 attempts' }, attempts: 3 })
    return result({ line: i + 1, custom_id: id, finish_reason: i % 7 === 6 ? 'length' : 'stop' })
  })
}

const running = job({
  id: 'batch_abc',
  running: true,
  request_counts: { total: N, completed: 90, failed: 10 },
  progress: { chunk: 2, chunks: 3, completed: 90, failed: 10, total: N, requestsPerSecond: 12.5, tokensPerSecond: 840, etaSeconds: 200, hold: null, updatedAt: 1 },
})

function start(over?: (s: FakeService) => void): FakeService {
  const { service } = startWithService((s) => {
    s.jobs.data.push(running)
    s.withResults('batch_abc', results())
    over?.(s)
  }, '#/jobs/batch_abc')
  return service
}

const pageCalls = (s: FakeService) => s.callsTo('GET', '/api/batches/batch_abc/results').map(queryOf)
const ids = (): string[] => within(screen.getByTestId('results-table')).getAllByRole('row').slice(1).map((r) => r.getAttribute('data-testid')!.replace('result-', ''))

describe('the Job view', () => {
  test('the progress: chunk k of N, the rates, the ETA, and why it waits', async () => {
    const service = start()
    const summary = await screen.findByTestId('job-summary')
    await waitFor(() => expect(summary.textContent).toContain('chunk 2 of 3'))
    expect(summary.textContent).toContain('12.5 requests/s')
    expect(summary.textContent).toContain('840 tokens/s')
    expect(summary.textContent).toContain('ETA 3 min 20 s')
    expect(summary.textContent).toContain('100 of 120 requests')

    const hold = { kind: 'thermal' as const, detail: 'paused: GPU 86 °C (pauses at 83 °C, resumes at 75 °C)', since: 1 }
    service.push('batch.progress', { id: 'batch_abc', progress: { ...running.progress!, chunk: 3, hold, updatedAt: 2 } })
    await waitFor(() => expect(summary.textContent).toContain('chunk 3 of 3'))
    expect(within(summary).getByTestId('batch-detail').textContent).toContain('paused: GPU 86 °C')
    expect(within(summary).getByTestId('batch-detail').dataset.hold).toBe('thermal')
  })

  test('one page at a time from the service: the first 50, then Next, Previous, Last', async () => {
    const service = start()
    await screen.findByTestId('results-table')
    expect(ids()).toHaveLength(RESULTS_PAGE_SIZE)
    expect(ids()[0]).toBe('q1')
    expect(screen.getByTestId('pager-range').textContent).toBe('Requests 1–50 of 120')
    expect(pageCalls(service).map((q) => [q.get('offset'), q.get('limit')])).toEqual([['0', '50']])

    fireEvent.click(screen.getByRole('button', { name: 'Next' }))
    await waitFor(() => expect(ids()[0]).toBe('q51'))
    expect(screen.getByTestId('pager-range').textContent).toBe('Requests 51–100 of 120')
    fireEvent.click(screen.getByRole('button', { name: 'Last page' }))
    await waitFor(() => expect(ids()[0]).toBe('q101'))
    expect(ids()).toHaveLength(20)
    expect(screen.getByRole('button', { name: 'Next' })).toHaveProperty('disabled', true)
    fireEvent.click(screen.getByRole('button', { name: 'Previous' }))
    await waitFor(() => expect(ids()[0]).toBe('q51'))
    expect(pageCalls(service).map((q) => q.get('offset'))).toEqual(['0', '50', '100', '50'])
    // Never more than a page: the window holds 50 rows whatever the job's size.
    expect(pageCalls(service).every((q) => q.get('limit') === '50')).toBe(true)
  })

  test('the search waits for a pause in typing, sends one request, and starts at the first page', async () => {
    const service = start()
    await screen.findByTestId('results-table')
    fireEvent.click(screen.getByRole('button', { name: 'Next' }))
    await waitFor(() => expect(ids()[0]).toBe('q51'))
    const box = screen.getByTestId('results-search')
    const before = pageCalls(service).length
    for (const text of ['q', 'q1', 'q11', 'q111']) fireEvent.change(box, { target: { value: text } })
    await new Promise((r) => setTimeout(r, SEARCH_DEBOUNCE_MS / 2))
    expect(pageCalls(service)).toHaveLength(before) // still typing
    await waitFor(() => expect(ids()).toEqual(['q111']))
    const sent = pageCalls(service).slice(before)
    expect(sent.map((q) => [q.get('q'), q.get('offset')])).toEqual([['q111', '0']])
    expect(screen.getByTestId('pager-range').textContent).toBe('Requests 1–1 of 1')

    fireEvent.change(box, { target: { value: 'no such words' } })
    expect((await screen.findByTestId('results-empty')).textContent).toBe('No request matches.')
  })

  test('the state and finish_reason filters go to the service and start at the first page', async () => {
    const service = start()
    await screen.findByTestId('results-table')
    fireEvent.change(screen.getByTestId('results-state'), { target: { value: 'failed' } })
    await waitFor(() => expect(ids()).toEqual(['q10', 'q20', 'q30', 'q40', 'q50', 'q60', 'q70', 'q80', 'q90', 'q100']))
    expect(pageCalls(service).at(-1)!.get('state')).toBe('failed')

    fireEvent.change(screen.getByTestId('results-state'), { target: { value: 'succeeded' } })
    fireEvent.change(screen.getByTestId('results-finish-reason'), { target: { value: 'length' } })
    await waitFor(() => expect(ids()).toEqual(['q7', 'q14', 'q21', 'q28', 'q35', 'q42', 'q49', 'q56', 'q63', 'q77', 'q84', 'q91', 'q98']))
    const last = pageCalls(service).at(-1)!
    expect([last.get('state'), last.get('finish_reason'), last.get('offset')]).toEqual(['succeeded', 'length', '0'])

    fireEvent.change(screen.getByTestId('results-state'), { target: { value: '' } })
    fireEvent.change(screen.getByTestId('results-finish-reason'), { target: { value: '' } })
    await waitFor(() => expect(ids()).toHaveLength(50))
    expect(pageCalls(service).at(-1)!.has('state')).toBe(false)
  })

  test('the finish reason filter offers the reasons of this job\'s answers, counted, and reads them again when it is used', async () => {
    const service = start((s) => {
      const rows = results()
      rows[0] = result({ line: 1, custom_id: 'q1', finish_reason: 'tool_calls' })
      s.withResults('batch_abc', rows)
    })
    await screen.findByTestId('results-table')
    const select = screen.getByTestId('results-finish-reason') as HTMLSelectElement
    // 100 answered: 10 failed (no reason), 13 cut by the length limit, 1 tool call, the rest stopped.
    await waitFor(() => expect(Array.from(select.options, (o) => o.textContent)).toEqual(['any', 'stop (76)', 'length (13)', 'tool_calls (1)']))
    fireEvent.change(select, { target: { value: 'tool_calls' } })
    await waitFor(() => expect(ids()).toEqual(['q1']))

    // A pending request is answered, cut by a content filter: the choices are read again when the filter is used.
    service.results.get('batch_abc')![100] = result({ line: 101, custom_id: 'q101', finish_reason: 'content_filter' })
    const before = service.callsTo('GET', '/api/batches/batch_abc/finish-reasons').length
    fireEvent.focus(select)
    await waitFor(() => expect(Array.from(select.options, (o) => o.value)).toEqual(['', 'stop', 'length', 'content_filter', 'tool_calls']))
    expect(service.callsTo('GET', '/api/batches/batch_abc/finish-reasons')).toHaveLength(before + 1)
    expect(select.value).toBe('tool_calls')
  })

  test('a finish reason from an address that the job has none of stays chosen, counted 0', async () => {
    startWithService((s) => {
      s.jobs.data.push(running)
      s.withResults('batch_abc', results())
    }, '#/jobs/batch_abc?finish=content_filter')
    expect((await screen.findByTestId('results-empty')).textContent).toBe('No request matches.')
    const select = screen.getByTestId('results-finish-reason') as HTMLSelectElement
    await waitFor(() => expect(Array.from(select.options, (o) => o.textContent)).toEqual(['any', 'stop (77)', 'length (13)', 'content_filter (0)']))
    expect(select.value).toBe('content_filter')
  })

  test('a request opens in the side panel: the messages as a chat, the answer, usage, raw JSON; Esc closes it', async () => {
    const service = start()
    fireEvent.click(await screen.findByTestId('result-q3'))
    const panel = await screen.findByTestId('request-panel')
    await waitFor(() => expect(within(panel).getByTestId('request-answer').textContent).toBe('Answer to q3'))
    expect(service.callsTo('GET', '/api/batches/batch_abc/results/q3')).toHaveLength(1)
    const bubbles = within(within(panel).getByTestId('chat')).getAllByRole('listitem')
    expect(bubbles.map((b) => [b.dataset.role, b.textContent])).toEqual([
      ['system', 'systemBe brief.'],
      ['user', 'userQuestion q3'],
    ])
    const usage = within(panel).getByTestId('request-usage').textContent
    expect(usage).toContain('12 in, 7 out')
    expect(usage).toContain('420 ms')
    expect(usage).toContain('stop')
    expect(usage).toContain('gemma-3-12b')
    const raw = within(panel).getByTestId('request-raw')
    expect(raw.textContent).toContain('"custom_id": "q3"')
    expect(raw.textContent).toContain('"content": "Answer to q3"')
    expect(screen.getByTestId('result-q3').getAttribute('aria-selected')).toBe('true')

    fireEvent.click(screen.getByTestId('result-q10'))
    await waitFor(() => expect(within(screen.getByTestId('request-panel')).getByTestId('request-error').textContent).toContain('engine answered 500 after 3 attempts'))

    fireEvent.keyDown(window, { key: 'Escape' })
    await waitFor(() => expect(screen.queryByTestId('request-panel')).toBeNull())
  })

  test('a custom_id with a slash is asked for percent-encoded', async () => {
    const service = start((s) => s.withResults('batch_abc', [result({ custom_id: 'doc/7' })]))
    fireEvent.click(await screen.findByTestId('result-doc/7'))
    await waitFor(() => expect(within(screen.getByTestId('request-panel')).getByTestId('request-answer').textContent).toBe('Answer to doc/7'))
    expect(service.calls.some((c) => c.url === '/api/batches/batch_abc/results/doc%2F7')).toBe(true)
  })

  test('live: progress events of the shown job refetch the visible page, at most once a second; other jobs do not', async () => {
    const service = start()
    await screen.findByTestId('results-table')
    fireEvent.click(screen.getByRole('button', { name: 'Last page' }))
    await waitFor(() => expect(ids()[0]).toBe('q101'))
    expect(screen.getByTestId('result-q101').textContent).toContain('pending')
    const before = pageCalls(service).length

    // q101 is committed meanwhile.
    service.results.get('batch_abc')![100] = result({ line: 101, custom_id: 'q101', preview: 'Answer to q101' })
    for (let i = 0; i < 5; i++) service.push('batch.progress', { id: 'batch_abc', progress: { ...running.progress!, completed: 91 + i } })
    service.push('batch.progress', { id: 'batch_other', progress: running.progress })
    await waitFor(() => expect(screen.getByTestId('result-q101').textContent).toContain('Answer to q101'))
    const live = pageCalls(service).slice(before)
    expect(live.length).toBeGreaterThanOrEqual(1)
    expect(live.length).toBeLessThanOrEqual(2) // the first at once, the rest folded into one a second later
    expect(live.every((q) => q.get('offset') === '100')).toBe(true) // the page shown, not the first
    await new Promise((r) => setTimeout(r, LIVE_REFRESH_MS + 200))
    expect(pageCalls(service).length - before).toBeLessThanOrEqual(2)
    expect(service.callsTo('GET', '/api/batches/batch_other/results')).toHaveLength(0)
  })

  test('filters, the page and the request opened go into the address without a history entry each; a reload opens the view as it was', async () => {
    const service = start()
    await screen.findByTestId('results-table')
    const entries = history.length
    fireEvent.change(screen.getByTestId('results-state'), { target: { value: 'succeeded' } })
    fireEvent.change(screen.getByTestId('results-finish-reason'), { target: { value: 'stop' } })
    await waitFor(() => expect(location.hash).toBe('#/jobs/batch_abc?state=succeeded&finish=stop'))
    await waitFor(() => expect(ids()).not.toContain('q7'))
    fireEvent.click(screen.getByRole('button', { name: 'Next' }))
    await waitFor(() => expect(screen.getByTestId('pager-range').textContent).toMatch(/^Requests 51–/))
    const second = ids()
    const opened = second[3]
    fireEvent.click(screen.getByTestId(`result-${opened}`))
    await waitFor(() => expect(within(screen.getByTestId('request-panel')).getByTestId('request-answer').textContent).toBe(`Answer to ${opened}`))
    expect(location.hash).toBe(`#/jobs/batch_abc?state=succeeded&finish=stop&page=2&open=${opened}`)
    expect(history.length).toBe(entries) // Back still leaves the view, not the last filter

    // "Reload": the page starts again from scratch with the same address.
    cleanup()
    resetStores()
    const before = pageCalls(service).length
    startApp()
    await waitFor(() => expect(within(screen.getByTestId('request-panel')).getByTestId('request-answer').textContent).toBe(`Answer to ${opened}`))
    await waitFor(() => expect(ids()).toEqual(second))
    expect(screen.getByTestId(`result-${opened}`).getAttribute('aria-selected')).toBe('true')
    expect((screen.getByTestId('results-state') as HTMLSelectElement).value).toBe('succeeded')
    expect((screen.getByTestId('results-finish-reason') as HTMLSelectElement).value).toBe('stop')
    expect(screen.getByTestId('pager-range').textContent).toMatch(/^Requests 51–/)
    const reread = pageCalls(service).slice(before)
    expect(reread.map((q) => [q.get('state'), q.get('finish_reason'), q.get('offset')])).toEqual([['succeeded', 'stop', '50']]) // one read, of that page
    expect(location.hash).toBe(`#/jobs/batch_abc?state=succeeded&finish=stop&page=2&open=${opened}`)

    // Closing the panel takes it out of the address.
    fireEvent.keyDown(window, { key: 'Escape' })
    await waitFor(() => expect(location.hash).toBe('#/jobs/batch_abc?state=succeeded&finish=stop&page=2'))
  })

  test('a search typed goes into the address once it is sent; an address with a search opens with it in the box', async () => {
    const service = start((s) => s.withResults('batch_abc', [...results(), result({ line: 121, custom_id: 'doc/7 & more?', preview: 'flip side' })]))
    await screen.findByTestId('results-table')
    fireEvent.change(screen.getByTestId('results-search'), { target: { value: 'flip side' } })
    await waitFor(() => expect(ids()).toEqual(['doc/7 & more?']))
    expect(location.hash).toBe('#/jobs/batch_abc?q=flip%20side')
    fireEvent.click(screen.getByTestId('result-doc/7 & more?'))
    await waitFor(() => expect(location.hash).toBe('#/jobs/batch_abc?q=flip%20side&open=doc%2F7%20%26%20more%3F'))

    cleanup()
    resetStores()
    startApp()
    await waitFor(() => expect(within(screen.getByTestId('request-panel')).getByTestId('request-answer').textContent).toBe('Answer to doc/7 & more?'))
    expect((screen.getByTestId('results-search') as HTMLInputElement).value).toBe('flip side')
    await waitFor(() => expect(ids()).toEqual(['doc/7 & more?']))
    expect(pageCalls(service).at(-1)!.get('q')).toBe('flip side')
  })

  test('an address typed while the view is open moves it there; a page past the end opens the last one', async () => {
    const service = start()
    await screen.findByTestId('results-table')
    location.hash = '#/jobs/batch_abc?state=failed&open=q20'
    await waitFor(() => expect(ids()).toEqual(['q10', 'q20', 'q30', 'q40', 'q50', 'q60', 'q70', 'q80', 'q90', 'q100']))
    expect((screen.getByTestId('results-state') as HTMLSelectElement).value).toBe('failed')
    await waitFor(() => expect(within(screen.getByTestId('request-panel')).getByTestId('request-error').textContent).toContain('engine answered 500'))
    expect(service.callsTo('GET', '/api/batches/batch_abc')).toHaveLength(1) // the same job: not read again

    location.hash = '#/jobs/batch_abc?page=40&state=nonsense'
    await waitFor(() => expect(ids()[0]).toBe('q101'))
    expect(screen.getByTestId('pager-range').textContent).toBe('Requests 101–120 of 120')
    expect((screen.getByTestId('results-state') as HTMLSelectElement).value).toBe('')
    expect(screen.queryByTestId('request-panel')).toBeNull()
    await waitFor(() => expect(location.hash).toBe('#/jobs/batch_abc?page=3'))
  })

  test('an unknown job says so', async () => {
    startWithService(undefined, '#/jobs/batch_gone')
    expect((await screen.findByTestId('job-summary')).textContent).toContain('No such batch: batch_gone')
  })
})
