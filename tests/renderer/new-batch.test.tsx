// @vitest-environment happy-dom
import { fireEvent, screen, waitFor, within } from '@testing-library/react'
import { describe, expect, test } from 'vitest'
import { JsonlScanner, PREVIEW_CHECK_LINES, previewJsonl } from '../../renderer/src/jsonl-preview'
import { envelope, installFakeXhr, job, json, xhrRequests } from './fake-service'
import { startWithService } from './render-app'

const line = (id: string, extra: Record<string, unknown> = {}): string =>
  JSON.stringify({ custom_id: id, method: 'POST', url: '/v1/chat/completions', body: { model: 'gemma-3-12b', messages: [{ role: 'user', content: `hi ${id}` }] }, ...extra })

const GOOD = [line('a'), line('b'), line('c')].join('\n') + '\n'

/** What JSON.parse says of `text`: the service's message repeats it. */
function jsonError(text: string): string {
  try {
    JSON.parse(text)
  } catch (err) {
    return (err as Error).message
  }
  throw new Error(`${text} is valid JSON`)
}

function chooseFile(file: File): void {
  fireEvent.change(screen.getByTestId('file-input'), { target: { files: [file] } })
}

describe('the preview of a dropped or chosen .jsonl file', () => {
  test('a good file: line count, endpoint, model, no problems', async () => {
    startWithService()
    chooseFile(new File([GOOD], 'requests.jsonl'))
    const preview = await screen.findByTestId('drop-preview')
    await waitFor(() => expect(preview.textContent).toContain('3 lines'))
    expect(within(preview).getByTestId('preview-endpoint').textContent).toBe('/v1/chat/completions')
    expect(within(preview).getByTestId('preview-model').textContent).toBe('gemma-3-12b')
    expect(preview.textContent).toContain('No problems found in the file')
    expect(within(preview).getByRole('button', { name: 'Submit batch' })).toHaveProperty('disabled', false)
  })

  test('bad lines are named with their line numbers', async () => {
    startWithService()
    const cutShort = '{"custom_id": "b", "method": "POST"' // cut short
    const text = [
      line('a'),
      cutShort,
      '',
      JSON.stringify({ custom_id: 'c', method: 'GET', url: '/v1/chat/completions', body: { model: 'gemma-3-12b', messages: [] } }),
      JSON.stringify({ method: 'POST', url: '/v1/chat/completions', body: { messages: [] } }),
      '[1, 2]',
      line('f', { url: '/v1/embeddings' }),
    ].join('\n')
    chooseFile(new File([text], 'bad.jsonl'))
    const problems = await screen.findByTestId('preview-problems')
    const items = within(problems)
      .getAllByRole('listitem')
      .map((li) => li.textContent)
    // The service's words, one problem per line (the first found); line 5's missing body.model comes after
    // its missing custom_id, as it does in the service (tests/unit/batch-line.test.ts has a line missing only that).
    expect(items).toEqual([
      `line 2: not valid JSON: ${jsonError(cutShort)}`,
      'line 4: method must be "POST", got "GET"',
      "line 5: missing required parameter 'custom_id'",
      'line 6: must be a JSON object, one request per line',
      'line 7: url "/v1/embeddings" differs from the batch\'s endpoint "/v1/chat/completions"',
    ])
    const preview = screen.getByTestId('drop-preview')
    expect(preview.textContent).toContain('6 lines')
    expect(preview.textContent).toContain('1 blank line')
  })

  test('a duplicate custom_id names the line that used it first', async () => {
    startWithService()
    chooseFile(new File([[line('q1'), line('q2'), line('q1')].join('\n')], 'dup.jsonl'))
    const problems = await screen.findByTestId('preview-problems')
    expect(problems.textContent).toContain('line 3: custom_id "q1" already used on line 1')
  })

  test('an empty custom_id and one longer than the service takes (512 characters) are named before upload', async () => {
    startWithService()
    const long = 'é'.repeat(513)
    chooseFile(new File([[line('ok'), line(''), line(long), line('ü'.repeat(512))].join('\n')], 'ids.jsonl'))
    const problems = await screen.findByTestId('preview-problems')
    const items = within(problems)
      .getAllByRole('listitem')
      .map((li) => li.textContent)
    expect(items).toEqual(['line 2: custom_id must be a non-empty string', 'line 3: custom_id is 513 characters long; at most 512 are allowed'])
  })

  test('two models in one file, and a model that is not in models.yaml', async () => {
    startWithService()
    const other = JSON.stringify({ custom_id: 'x', method: 'POST', url: '/v1/chat/completions', body: { model: 'mystery-70b', messages: [] } })
    chooseFile(new File([[line('a'), other].join('\n')], 'two.jsonl'))
    const problems = await screen.findByTestId('preview-problems')
    expect(problems.textContent).toContain('line 2: model "mystery-70b" differs from "gemma-3-12b" used from line 1; a batch runs one model')
    await waitFor(() => expect(screen.getByTestId('drop-preview').textContent).toContain("Not in models.yaml: 'mystery-70b'"))
  })

  test('a file that is not .jsonl is refused before it is read', async () => {
    startWithService()
    chooseFile(new File(['a,b\n'], 'table.csv'))
    const preview = await screen.findByTestId('drop-preview')
    expect(within(preview).getByRole('alert').textContent).toContain('table.csv is not a .jsonl file')
  })

  test('dropping a file anywhere on the window shows the overlay while dragging, then the preview', async () => {
    startWithService()
    await screen.findByRole('heading', { name: 'Engine' })
    const file = new File([GOOD], 'dropped.jsonl')
    fireEvent.dragEnter(document.body, { dataTransfer: { types: ['Files'], files: [] } })
    expect(await screen.findByTestId('drop-overlay')).toBeTruthy()
    fireEvent.dragOver(document.body, { dataTransfer: { types: ['Files'], files: [] } })
    fireEvent.drop(document.body, { dataTransfer: { types: ['Files'], files: [file] } })
    expect(screen.queryByTestId('drop-overlay')).toBeNull()
    await waitFor(() => expect(screen.getByTestId('drop-preview').textContent).toContain('3 lines'))
    expect(screen.getByTestId('drop-preview').textContent).toContain('dropped.jsonl')
  })
})

describe('the scanner', () => {
  test('counts every line of a large file, checks only the first lines, and does not care where chunks split', async () => {
    const n = PREVIEW_CHECK_LINES + 500
    const lines = Array.from({ length: n }, (_, i) => (i === n - 1 ? 'not json' : line(`r${i}`)))
    const text = lines.join('\r\n') + '\r\n\r\n'
    const all = new TextEncoder().encode(text)
    const scanner = new JsonlScanner()
    for (let at = 0; at < all.length; at += 777) scanner.push(all.subarray(at, at + 777))
    const preview = scanner.finish('big.jsonl')
    expect(preview.lines).toBe(n)
    expect(preview.blankLines).toBe(1)
    expect(preview.checkedLines).toBe(PREVIEW_CHECK_LINES)
    expect(preview.problems).toEqual([]) // the bad last line is past the checked ones: the service finds it
    expect(preview.endpoint).toBe('/v1/chat/completions')
    expect(preview.models).toEqual(['gemma-3-12b'])
    const streamed = await previewJsonl(new File([text], 'big.jsonl'))
    expect(streamed).toEqual(preview)
  })

  test('a last line without a newline counts; invalid UTF-8 is named; an empty file has no requests', () => {
    const s = new JsonlScanner()
    s.push(new TextEncoder().encode(`${line('a')}\n`))
    s.push(new Uint8Array([0x7b, 0xff, 0xfe, 0x7d, 0x0a]))
    s.push(new TextEncoder().encode(line('c')))
    const p = s.finish('x.jsonl')
    expect(p.lines).toBe(3)
    expect(p.problems).toEqual([{ line: 2, message: 'not valid UTF-8 text' }])
    expect(new JsonlScanner().finish('empty.jsonl').problems[0]?.message).toContain('no requests')
  })
})

describe('submitting', () => {
  test('uploads with progress (multipart, purpose=batch), creates the batch with the endpoint, and the job appears', async () => {
    installFakeXhr()
    const { service } = startWithService((s) =>
      s.on('POST', '/v1/batches', (call) => json(job({ id: 'batch_new', status: 'validating', request_counts: { total: 0, completed: 0, failed: 0 }, input_file_id: String((call.body as { input_file_id: string }).input_file_id) }))),
    )
    service.on('GET', '/api/batches/batch_new', () => json(job({ id: 'batch_new', status: 'validating', request_counts: { total: 0, completed: 0, failed: 0 } })))
    chooseFile(new File([GOOD], 'requests.jsonl'))
    const submit = await screen.findByRole('button', { name: 'Submit batch' })
    await waitFor(() => expect(submit).toHaveProperty('disabled', false))
    fireEvent.click(submit)

    await waitFor(() => expect(xhrRequests).toHaveLength(1))
    const req = xhrRequests[0]
    expect(req.method).toBe('POST')
    expect(req.url).toBe('/v1/files')
    expect(req.headers.authorization).toBe('Bearer k')
    expect(req.body?.get('purpose')).toBe('batch')
    expect((req.body?.get('file') as File).name).toBe('requests.jsonl')

    req.xhr.progress(100, 400)
    const progress = await screen.findByTestId('upload-progress')
    await waitFor(() => expect(within(progress).getByRole('progressbar').getAttribute('aria-valuenow')).toBe('25'))
    expect(progress.textContent).toContain('25%')

    req.xhr.respond(200, { id: 'file-123', object: 'file', bytes: 400, created_at: 1, filename: 'requests.jsonl', purpose: 'batch' })
    await waitFor(() => expect(service.callsTo('POST', '/v1/batches')).toHaveLength(1))
    expect(service.callsTo('POST', '/v1/batches')[0].body).toEqual({ input_file_id: 'file-123', endpoint: '/v1/chat/completions', completion_window: '24h' })
    const row = await screen.findByTestId('job-batch_new')
    expect(row.textContent).toContain('validating')
    expect(screen.getByTestId('upload-progress').textContent).toContain('batch_new')
  })

  test("the service's error envelope is shown when the batch is refused", async () => {
    installFakeXhr()
    startWithService((s) => s.on('POST', '/v1/batches', () => envelope(429, 'Too many active batches (10): wait for one to finish.', 'too_many_batches')))
    chooseFile(new File([GOOD], 'requests.jsonl'))
    fireEvent.click(await screen.findByRole('button', { name: 'Submit batch' }))
    await waitFor(() => expect(xhrRequests).toHaveLength(1))
    xhrRequests[0].xhr.respond(200, { id: 'file-1', object: 'file', bytes: 1, created_at: 1, filename: 'requests.jsonl', purpose: 'batch' })
    const error = await screen.findByTestId('upload-error')
    expect(error.textContent).toContain('The batch was not created')
    expect(error.textContent).toContain('Too many active batches (10): wait for one to finish.')
  })

  test('an upload the service refuses shows its message', async () => {
    installFakeXhr()
    startWithService()
    chooseFile(new File([GOOD], 'requests.jsonl'))
    fireEvent.click(await screen.findByRole('button', { name: 'Submit batch' }))
    await waitFor(() => expect(xhrRequests).toHaveLength(1))
    xhrRequests[0].xhr.respond(400, { error: { message: 'File is too large.', type: 'invalid_request_error', param: 'file', code: 'file_too_large' } })
    expect((await screen.findByTestId('upload-error')).textContent).toContain('File is too large.')
  })
})
