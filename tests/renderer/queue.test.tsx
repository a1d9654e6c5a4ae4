// @vitest-environment happy-dom
import { fireEvent, screen, waitFor, within } from '@testing-library/react'
import { describe, expect, test, vi } from 'vitest'
import { job, json, type Call } from './fake-service'
import { startWithService } from './render-app'

const running = job({
  id: 'batch_run',
  status: 'in_progress',
  running: true,
  status_detail: null,
  progress: { chunk: 2, chunks: 4, completed: 9_000, failed: 12, total: 20_000, requestsPerSecond: 12.5, tokensPerSecond: 3400, etaSeconds: 200, hold: null, updatedAt: Date.now() },
})

const finished = job({
  id: 'batch_done',
  status: 'completed',
  created_at: 1_763_700_000,
  output_file_id: 'file-out',
  error_file_id: 'file-err',
  request_counts: { total: 3, completed: 2, failed: 1 },
})

const rejected = job({
  id: 'batch_bad',
  status: 'failed',
  created_at: 1_763_600_000,
  request_counts: { total: 0, completed: 0, failed: 0 },
  errors: {
    object: 'list',
    data: [
      { code: 'invalid_json_line', message: 'line 3: not valid JSON', param: null, line: 3 },
      { code: 'duplicate_custom_id', message: "line 17: custom_id 'a' already used on line 3", param: 'custom_id', line: 17 },
    ],
  },
})

describe('the queue', () => {
  test('shows a running job: status, model, chunk k of N, progress, counts, rates, ETA', async () => {
    startWithService((s) => (s.jobs = { object: 'list', data: [running], has_more: false, paused: false }))
    const row = await screen.findByTestId('job-batch_run')
    expect(row.textContent).toContain('in_progress')
    expect(row.textContent).toContain('gemma-3-12b')
    expect(row.textContent).toContain('chunk 2 of 4')
    expect(row.textContent).toContain('12.5 requests/s')
    expect(row.textContent).toContain('ETA 3 min 20 s')
    expect(row.textContent).toMatch(/9,000 completed/)
    expect(row.textContent).toContain('12 failed')
    expect(within(row).getByRole('progressbar').getAttribute('aria-valuenow')).toBe('45') // (9000 + 12) / 20000
  })

  test('updates from batch.progress and batch.status events', async () => {
    const { service } = startWithService((s) => (s.jobs = { object: 'list', data: [running], has_more: false, paused: false }))
    const row = await screen.findByTestId('job-batch_run')
    await waitFor(() => expect(service.openStreams).toBe(1))
    service.push('batch.progress', { id: 'batch_run', progress: { ...running.progress, chunk: 3, completed: 15_000, hold: { kind: 'thermal', detail: 'paused: GPU 86 °C (pauses at 83 °C, resumes at 75 °C)', since: Date.now() } } })
    await waitFor(() => expect(row.textContent).toContain('chunk 3 of 4'))
    expect(row.textContent).toContain('paused: GPU 86 °C')
    expect(within(row).getByTestId('batch-detail').dataset.hold).toBe('thermal')
    service.on('GET', '/api/batches/batch_run', () => json({ ...running, status: 'finalizing', running: false }))
    service.push('batch.status', { batch: { ...running, status: 'finalizing' }, from: 'in_progress', to: 'finalizing' })
    await waitFor(() => expect(within(row).getByTestId('batch-status').textContent).toBe('finalizing'))
  })

  test('Cancel, Retry failed, Pause all and Resume all call their endpoints', async () => {
    const { service } = startWithService((s) => {
      s.jobs = { object: 'list', data: [running, finished], has_more: false, paused: false }
      s.on('POST', '/v1/batches/batch_run/cancel', () => json({ ...running, status: 'cancelling' }))
      s.on('POST', '/api/batches/batch_done/retry-failed', () => json(job({ id: 'batch_retry', status: 'validating', created_at: 1_763_900_000, metadata: { retry_of: 'batch_done' } })))
      s.on('GET', '/api/batches/batch_done', () => json({ ...finished, metadata: { retried_by: 'batch_retry' } }))
      s.on('POST', '/api/batches/pause', () => {
        s.jobs = { ...s.jobs, paused: true }
        return json({ paused: true })
      })
      s.on('POST', '/api/batches/resume', () => {
        s.jobs = { ...s.jobs, paused: false }
        return json({ paused: false })
      })
    })
    const runRow = await screen.findByTestId('job-batch_run')
    fireEvent.click(within(runRow).getByRole('button', { name: 'Cancel' }))
    await waitFor(() => expect(service.callsTo('POST', '/v1/batches/batch_run/cancel')).toHaveLength(1))
    await waitFor(() => expect(within(runRow).getByTestId('batch-status').textContent).toBe('cancelling'))

    const doneRow = screen.getByTestId('job-batch_done')
    fireEvent.click(within(doneRow).getByRole('button', { name: 'Retry failed' }))
    await waitFor(() => expect(service.callsTo('POST', '/api/batches/batch_done/retry-failed')).toHaveLength(1))
    expect((await screen.findByTestId('job-batch_retry')).textContent).toContain('Retry of batch_done')
    await waitFor(() => expect(doneRow.textContent).toContain('retried as batch_retry'))

    fireEvent.click(screen.getByRole('button', { name: 'Pause all' }))
    await waitFor(() => expect(service.callsTo('POST', '/api/batches/pause')).toHaveLength(1))
    expect(await screen.findByTestId('queue-paused')).toBeTruthy()
    fireEvent.click(screen.getByRole('button', { name: 'Resume all' }))
    await waitFor(() => expect(service.callsTo('POST', '/api/batches/resume')).toHaveLength(1))
    await waitFor(() => expect(screen.queryByTestId('queue-paused')).toBeNull())
    expect(service.calls.every((c) => c.authorization === 'Bearer k')).toBe(true)
  })

  test('Download output and Download errors fetch the file with the key and save it as <batch id>_output.jsonl', async () => {
    const saved: { name: string; href: string }[] = []
    vi.spyOn(HTMLAnchorElement.prototype, 'click').mockImplementation(function (this: HTMLAnchorElement) {
      saved.push({ name: this.download, href: this.href })
    })
    const { service } = startWithService((s) => {
      s.jobs = { object: 'list', data: [finished], has_more: false, paused: false }
      s.on('GET', '/v1/files/file-out/content', () => new Response('{"id":"r1"}\n', { status: 200 }))
      s.on('GET', '/v1/files/file-err/content', () => new Response('{"id":"r2"}\n', { status: 200 }))
    })
    const row = await screen.findByTestId('job-batch_done')
    expect(row.textContent).toContain('completed')
    fireEvent.click(within(row).getByRole('button', { name: 'Download output' }))
    await waitFor(() => expect(saved).toHaveLength(1))
    expect(saved[0].name).toBe('batch_done_output.jsonl')
    expect(saved[0].href).toMatch(/^blob:/)
    expect(service.callsTo('GET', '/v1/files/file-out/content')[0].authorization).toBe('Bearer k')
    fireEvent.click(within(row).getByRole('button', { name: 'Download errors' }))
    await waitFor(() => expect(saved).toHaveLength(2))
    expect(saved[1].name).toBe('batch_done_errors.jsonl')
  })

  test("Show errors lists a finished batch's failed requests, and a rejected batch's lines, with line numbers", async () => {
    const { service } = startWithService((s) => {
      s.jobs = { object: 'list', data: [finished, rejected], has_more: false, paused: false }
      s.on('GET', '/api/batches/batch_done/failed', () =>
        json({ object: 'list', data: [{ custom_id: 'q2', line: 2, error_type: 'server_error', message: 'engine answered 500 after 3 attempts', attempts: 3 }], has_more: false }),
      )
    })
    const doneRow = await screen.findByTestId('job-batch_done')
    fireEvent.click(within(doneRow).getByRole('button', { name: 'Show errors' }))
    const table = await within(doneRow).findByTestId('batch-errors')
    expect(service.callsTo('GET', '/api/batches/batch_done/failed')).toHaveLength(1)
    const cells = within(table)
      .getAllByRole('row')[1]
      .querySelectorAll('td')
    expect(Array.from(cells, (c) => c.textContent)).toEqual(['2', 'q2', 'server_error', 'engine answered 500 after 3 attempts', '3'])

    const badRow = screen.getByTestId('job-batch_bad')
    expect(badRow.textContent).toContain('failed')
    fireEvent.click(within(badRow).getByRole('button', { name: 'Show errors' }))
    const badTable = await within(badRow).findByTestId('batch-errors')
    const lines = within(badTable)
      .getAllByRole('row')
      .slice(1)
      .map((r) => r.querySelector('td')?.textContent)
    expect(lines).toEqual(['3', '17'])
    expect(badTable.textContent).toContain("custom_id 'a' already used on line 3")
    expect(service.callsTo('GET', '/api/batches/batch_bad/failed')).toHaveLength(0)
  })

  test('an action the service refuses shows its message on the row', async () => {
    startWithService((s) => {
      s.jobs = { object: 'list', data: [running], has_more: false, paused: false }
      s.on('POST', '/v1/batches/batch_run/cancel', () => json({ error: { message: "Cannot cancel a batch with status 'completed'.", type: 'invalid_request_error', param: null, code: 'batch_not_cancellable' } }, 409))
    })
    const row = await screen.findByTestId('job-batch_run')
    fireEvent.click(within(row).getByRole('button', { name: 'Cancel' }))
    expect((await within(row).findByRole('alert')).textContent).toContain("Cannot cancel a batch with status 'completed'.")
  })

  test('a late answer to an older read does not overwrite a newer one', async () => {
    // The first list read (at start) is slow: it answers only when the test lets it, after a later read.
    let release: () => void = () => undefined
    let reads = 0
    const { service } = startWithService((s) => {
      s.jobs = { object: 'list', data: [running], has_more: false, paused: false }
      s.on('GET', '/api/batches', async (_call: Call) => {
        reads++
        if (reads === 1) {
          const stale = { object: 'list', data: [running], has_more: false, paused: false }
          await new Promise<void>((r) => (release = r))
          return json(stale)
        }
        return json(s.jobs)
      })
      s.on('POST', '/api/batches/pause', () => json({ paused: true }))
    })
    // Meanwhile the job finished; Pause all reads the list again, and that read answers first.
    service.jobs = { object: 'list', data: [{ ...running, status: 'completed', running: false, progress: null }], has_more: false, paused: true }
    fireEvent.click(await screen.findByRole('button', { name: 'Pause all' }))
    const row = await screen.findByTestId('job-batch_run')
    await waitFor(() => expect(within(row).getByTestId('batch-status').textContent).toBe('completed'))
    release()
    await new Promise((r) => setTimeout(r, 50))
    expect(reads).toBe(2)
    expect(within(screen.getByTestId('job-batch_run')).getByTestId('batch-status').textContent).toBe('completed')
    expect(screen.getByTestId('queue-paused')).toBeTruthy()
  })

  test('a read sent before a batch event does not take the event back when it answers after it', async () => {
    let release: () => void = () => undefined
    const { service } = startWithService((s) => {
      s.on('GET', '/api/batches', async () => {
        const stale = { object: 'list', data: [running], has_more: false, paused: false }
        await new Promise<void>((r) => (release = r))
        return json(stale)
      })
      // The job read after the event is slow too: the event alone must show the new job and status.
      s.onMatch('GET', /^\/api\/batches\/([^/]+)$/, () => new Promise<Response>(() => undefined))
    })
    await waitFor(() => expect(service.openStreams).toBe(1))
    const created = job({ id: 'batch_new', status: 'validating', created_at: 1_763_900_000 })
    service.push('batch.status', { batch: { ...running, status: 'cancelling' }, from: 'in_progress', to: 'cancelling' })
    service.push('batch.status', { batch: created, from: null, to: 'validating' })
    const row = await screen.findByTestId('job-batch_run')
    await waitFor(() => expect(within(row).getByTestId('batch-status').textContent).toBe('cancelling'))
    await screen.findByTestId('job-batch_new')
    release()
    await waitFor(() => expect(screen.queryByText('Loading…')).toBeNull())
    await new Promise((r) => setTimeout(r, 50))
    expect(within(screen.getByTestId('job-batch_run')).getByTestId('batch-status').textContent).toBe('cancelling')
    expect(screen.getByTestId('job-batch_new')).toBeTruthy() // created after the read was sent: not dropped by it
  })

  test('the empty state says what to do', async () => {
    startWithService()
    const empty = await screen.findByTestId('queue-empty')
    expect(empty.textContent).toContain('No batch jobs yet: drop a .jsonl file here or use the API')
  })
})
