// @vitest-environment happy-dom
import { cleanup, fireEvent, screen, waitFor, within } from '@testing-library/react'
import { describe, expect, test, vi } from 'vitest'
import type { ComparisonRow } from '../../main/contract'
import { ROWS_PAGE_SIZE } from '../../renderer/src/store/compare'
import { answer, arm, comparison, comparisonRow, job, queryOf, type FakeService } from './fake-service'
import { resetStores } from '../../renderer/src/store/reset'
import { startApp, startWithService } from './render-app'

const A = 'gemma-3-12b'
const B = 'llama-3.1-8b'
const N = 30

/** 30 rows as the fake engine's A/B knob answers them: plain (the same), [flip] (words reversed), [shout] (upper-cased). */
function rows(): ComparisonRow[] {
  return Array.from({ length: N }, (_, i) => {
    const kind = i % 3 === 1 ? 'flip' : i % 3 === 2 ? 'shout' : 'plain'
    const q = `Question ${i + 1}${kind === 'plain' ? '' : ` [${kind}]`}`
    const a = `echo: ${q}`
    const b = kind === 'flip' ? a.split(' ').reverse().join(' ') : kind === 'shout' ? `${a.toUpperCase()}!` : a
    return comparisonRow({
      custom_id: `c-${i + 1}`,
      line: i + 1,
      prompt: [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: q }],
      answers: { [A]: answer(a), [B]: answer(b) },
      differs: kind === 'flip',
    })
  })
}

function start(configure?: (s: FakeService) => void, hash = '#/compare/cmp_1'): FakeService {
  const { service } = startWithService((s) => {
    s.withComparison(comparison({ rows: N, arms: [arm({ model: A, batch_id: 'batch_a', total: N, completed: N }), arm({ model: B, batch_id: 'batch_b', total: N, completed: N })] }), rows())
    configure?.(s)
  }, hash)
  return service
}

const rowCalls = (s: FakeService) => s.callsTo('GET', '/api/comparisons/cmp_1/rows').map(queryOf)
const votes = (s: FakeService) => s.calls.filter((c) => c.method === 'PUT' && c.path.startsWith('/api/comparisons/cmp_1/votes/')).map((c) => [decodeURIComponent(c.path.split('/').pop()!), c.body])
const current = (): string | null => document.querySelector('.cmp-row[aria-current="true"]')?.getAttribute('data-testid')?.replace('row-', '') ?? null
const press = (key: string, target: Element = document.body): void => void fireEvent.keyDown(target, { key })

describe('the Compare view of one comparison', () => {
  test('the figures per model, and a page of rows: the prompt once, each model\'s answer', async () => {
    const service = start()
    const figures = await screen.findByTestId('comparison-figures')
    expect(screen.getByRole('heading', { name: 'brief answers' })).toBeTruthy()
    const a = within(figures).getByTestId(`arm-${A}`).textContent
    expect(a).toContain('batch_a')
    expect(a).toContain('400 ms')
    expect(a).toContain('610 ms')
    expect(a).toContain('52.5')
    expect(a).toContain('50% / 75%')
    const row = await screen.findByTestId('row-c-2')
    expect(within(row).getByTestId('chat').textContent).toContain('Question 2 [flip]')
    expect(within(row).getByTestId(`answer-${A}`).textContent).toContain('echo: Question 2 [flip]')
    expect(within(row).getByTestId(`answer-${B}`).textContent).toContain('[flip] 2 Question echo:')
    expect(within(row).getByText('differs')).toBeTruthy()
    expect(document.querySelectorAll('.cmp-row')).toHaveLength(ROWS_PAGE_SIZE)
    expect(rowCalls(service).map((q) => [q.get('offset'), q.get('limit'), q.has('differences')])).toEqual([['0', String(ROWS_PAGE_SIZE), false]])
    // The arms link to their Job views.
    expect(within(figures).getByRole('link', { name: 'batch_b' }).getAttribute('href')).toBe('#/jobs/batch_b')
  })

  test('the word diff marks what only one answer says; equal answers have no marks', async () => {
    start()
    const flip = await screen.findByTestId('row-c-2')
    const left = within(flip).getByTestId(`answer-${A}`)
    const right = within(flip).getByTestId(`answer-${B}`)
    expect(left.querySelectorAll('del').length).toBeGreaterThan(0)
    expect(left.querySelectorAll('ins')).toHaveLength(0)
    expect(right.querySelectorAll('ins').length).toBeGreaterThan(0)
    expect(right.querySelectorAll('del')).toHaveLength(0)
    expect(left.textContent).toContain('echo: Question 2 [flip]')

    const shout = screen.getByTestId('row-c-3')
    expect(Array.from(within(shout).getByTestId(`answer-${B}`).querySelectorAll('ins'), (e) => e.textContent!.trim())).toEqual(['ECHO: QUESTION', '[SHOUT]!'])

    const plain = screen.getByTestId('row-c-1')
    expect(plain.querySelectorAll('ins, del')).toHaveLength(0)
  })

  test('"Differences only" asks the service for the rows that differ, from the first page', async () => {
    const service = start()
    await screen.findByTestId('row-c-1')
    fireEvent.click(screen.getByRole('checkbox', { name: 'Differences only' }))
    await waitFor(() => expect(screen.queryByTestId('row-c-1')).toBeNull())
    expect(rowCalls(service).at(-1)!.get('differences')).toBe('true')
    expect(rowCalls(service).at(-1)!.get('offset')).toBe('0')
    const shown = Array.from(document.querySelectorAll('.cmp-row'), (r) => r.getAttribute('data-testid'))
    expect(shown).toEqual(['row-c-2', 'row-c-5', 'row-c-8', 'row-c-11', 'row-c-14', 'row-c-17', 'row-c-20', 'row-c-23', 'row-c-26', 'row-c-29'])
    fireEvent.click(screen.getByRole('checkbox', { name: 'Differences only' }))
    await screen.findByTestId('row-c-1')
    expect(rowCalls(service).at(-1)!.has('differences')).toBe(false)
  })

  test('keyboard voting: 1/2 a model, t tie, b both bad, each a PUT with that winner; j/k move the current row', async () => {
    const service = start()
    await screen.findByTestId('row-c-1')
    expect(current()).toBe('c-1')
    press('1')
    await waitFor(() => expect(votes(service)).toEqual([['c-1', { winner: A }]]))
    await waitFor(() => expect(within(screen.getByTestId('row-c-1')).getByTestId('row-vote').textContent).toBe(`vote: ${A}`))
    press('j')
    expect(current()).toBe('c-2')
    press('2')
    press('j')
    press('t')
    press('j')
    press('b')
    await waitFor(() => expect(votes(service)).toHaveLength(4))
    expect(votes(service)).toEqual([
      ['c-1', { winner: A }],
      ['c-2', { winner: B }],
      ['c-3', { winner: 'tie' }],
      ['c-4', { winner: 'both_bad' }],
    ])
    press('k')
    press('k')
    expect(current()).toBe('c-2')
    press('3') // no third model: nothing
    press('x')
    await new Promise((r) => setTimeout(r, 50))
    expect(votes(service)).toHaveLength(4)
    // The figures are read again: the win rates and the vote totals.
    await waitFor(() => expect(screen.getByTestId('vote-totals').textContent).toBe('4 votes · 1 tie · 1 both bad'))
    expect(within(screen.getByTestId(`arm-${A}`)).getByTestId('win-rate').textContent).toContain('25%')
  })

  test('keys typed in a field are text, not votes', async () => {
    const service = start()
    await screen.findByTestId('row-c-1')
    const search = screen.getByTestId('rows-search')
    press('1', search)
    press('j', search)
    await new Promise((r) => setTimeout(r, 50))
    expect(votes(service)).toHaveLength(0)
    expect(current()).toBe('c-1')
  })

  test('keys pressed on the "Differences only" checkbox (focused by its click) still vote and move', async () => {
    const service = start()
    await screen.findByTestId('row-c-1')
    const box = screen.getByRole('checkbox', { name: 'Differences only' })
    fireEvent.click(box)
    await waitFor(() => expect(current()).toBe('c-2'))
    press('j', box)
    expect(current()).toBe('c-5')
    press('2', box)
    await waitFor(() => expect(votes(service)).toEqual([['c-5', { winner: B }]]))
  })

  test('j at the last row of a page goes on to the next page, k at the first back to the previous one', async () => {
    const service = start()
    await screen.findByTestId('row-c-1')
    for (let i = 1; i < ROWS_PAGE_SIZE; i++) press('j')
    expect(current()).toBe(`c-${ROWS_PAGE_SIZE}`)
    press('j')
    await waitFor(() => expect(current()).toBe(`c-${ROWS_PAGE_SIZE + 1}`))
    expect(rowCalls(service).at(-1)!.get('offset')).toBe(String(ROWS_PAGE_SIZE))
    expect(screen.getByTestId('pager-range').textContent).toBe(`Rows ${ROWS_PAGE_SIZE + 1}–${N} of ${N}`)
    for (let i = 0; i < 10; i++) press('j') // the end: stays on the last row
    expect(current()).toBe(`c-${N}`)
    for (let i = ROWS_PAGE_SIZE + 1; i < N; i++) press('k')
    expect(current()).toBe(`c-${ROWS_PAGE_SIZE + 1}`)
    press('k')
    await waitFor(() => expect(current()).toBe(`c-${ROWS_PAGE_SIZE}`))
    expect(rowCalls(service).at(-1)!.get('offset')).toBe('0')
  })

  test('n opens a note on the current row; it is saved with the row\'s vote; keys in it are text', async () => {
    const service = start()
    await screen.findByTestId('row-c-1')
    press('j')
    press('2')
    await waitFor(() => expect(votes(service)).toHaveLength(1))
    press('n')
    const editor = await within(screen.getByTestId('row-c-2')).findByTestId('note-editor')
    const area = within(editor).getByRole('textbox', { name: 'Note' })
    press('1', area)
    fireEvent.change(area, { target: { value: 'reversed the words' } })
    expect((within(editor).getByRole('combobox', { name: 'Vote saved with the note' }) as HTMLSelectElement).value).toBe(B)
    fireEvent.click(within(editor).getByRole('button', { name: 'Save note' }))
    await waitFor(() => expect(votes(service)).toHaveLength(2))
    expect(votes(service)[1]).toEqual(['c-2', { winner: B, note: 'reversed the words' }])
    await waitFor(() => expect(screen.queryByTestId('note-editor')).toBeNull())
    expect(screen.getByTestId('row-c-2').textContent).toContain('note: reversed the words')

    // A later vote keeps the note.
    press('t')
    await waitFor(() => expect(votes(service)).toHaveLength(3))
    expect(votes(service)[2]).toEqual(['c-2', { winner: 'tie', note: 'reversed the words' }])
  })

  test('a note on a row without a vote asks for one first; Esc closes it', async () => {
    const service = start()
    await screen.findByTestId('row-c-1')
    press('n')
    const editor = await screen.findByTestId('note-editor')
    expect(within(editor).getByRole('button', { name: 'Save note' })).toHaveProperty('disabled', true)
    fireEvent.change(within(editor).getByRole('combobox', { name: 'Vote saved with the note' }), { target: { value: 'both_bad' } })
    fireEvent.change(within(editor).getByRole('textbox', { name: 'Note' }), { target: { value: 'both wrong' } })
    fireEvent.keyDown(within(editor).getByRole('textbox', { name: 'Note' }), { key: 'Enter', ctrlKey: true })
    await waitFor(() => expect(votes(service)).toEqual([['c-1', { winner: 'both_bad', note: 'both wrong' }]]))
    press('n')
    fireEvent.keyDown(await screen.findByTestId('note-editor'), { key: 'Escape' })
    await waitFor(() => expect(screen.queryByTestId('note-editor')).toBeNull())
  })

  test('a note opened right after a vote key, before the service answered, is saved with that vote', async () => {
    const service = start()
    await screen.findByRole('heading', { name: 'brief answers' })
    await screen.findByTestId('row-c-1')
    // The service is slow: the first PUT answers only when the test lets it.
    const stored = service.comparison('cmp_1')!
    let answer: () => void = () => undefined
    let first = true
    service.onMatch('PUT', /^\/api\/comparisons\/cmp_1\/votes\/(.+)$/, async (call, [id]) => {
      if (first) {
        first = false
        await new Promise<void>((r) => (answer = r))
      }
      const body = call.body as { winner: string; note?: string }
      const v = { custom_id: decodeURIComponent(id), winner: body.winner, note: body.note ?? null, updated_at: 1 }
      stored.rows.find((r) => r.custom_id === v.custom_id)!.vote = v
      return new Response(JSON.stringify(v), { status: 200, headers: { 'content-type': 'application/json' } })
    })
    press('b')
    press('n')
    const editor = await screen.findByTestId('note-editor')
    expect(within(editor).getByRole('button', { name: 'Save note' })).toHaveProperty('disabled', true)
    answer()
    await waitFor(() => expect(within(editor).getByRole('button', { name: 'Save note' })).toHaveProperty('disabled', false))
    fireEvent.change(within(editor).getByRole('textbox', { name: 'Note' }), { target: { value: 'both off topic' } })
    fireEvent.click(within(editor).getByRole('button', { name: 'Save note' }))
    await waitFor(() => expect(votes(service)).toEqual([['c-1', { winner: 'both_bad' }], ['c-1', { winner: 'both_bad', note: 'both off topic' }]]))
  })

  test('the exports download with the key, one format each', async () => {
    const service = start()
    await screen.findByTestId('exports')
    vi.spyOn(URL, 'createObjectURL').mockReturnValue('blob:fake')
    // happy-dom would follow the link; a browser saves it (the download attribute): record what would be saved.
    const saved: string[] = []
    vi.spyOn(HTMLAnchorElement.prototype, 'click').mockImplementation(function (this: HTMLAnchorElement) {
      saved.push(this.download)
    })
    for (const label of ['CSV', 'JSONL', 'Preference pairs', 'Fine-tuning JSONL']) {
      fireEvent.click(within(screen.getByTestId('exports')).getByRole('button', { name: label }))
      await waitFor(() => expect(within(screen.getByTestId('exports')).getByRole('button', { name: label })).toHaveProperty('disabled', false))
    }
    const calls = service.callsTo('GET', '/api/comparisons/cmp_1/export')
    expect(calls.map((c) => queryOf(c).get('format'))).toEqual(['csv', 'jsonl', 'preference', 'finetune'])
    expect(calls.every((c) => c.authorization === 'Bearer k')).toBe(true)
    expect(saved).toEqual(['cmp_1.csv', 'cmp_1-jsonl.jsonl', 'cmp_1-preference.jsonl', 'cmp_1-finetune.jsonl'])
  })

  test('live: an event of one of its batches reads the figures and the visible rows again; another batch\'s does not', async () => {
    const service = start((s) => {
      const c = s.comparison('cmp_1')!
      c.comparison.arms[1] = { ...c.comparison.arms[1], status: 'in_progress', completed: 0 }
      c.rows[0].answers[B] = answer(null, { state: 'pending', latency_ms: null, output_tokens: null })
    })
    const row = await screen.findByTestId('row-c-1')
    expect(within(row).getByTestId(`answer-${B}`).textContent).toContain('Pending')
    const before = rowCalls(service).length
    service.push('batch.progress', { id: 'batch_other', progress: { chunk: 1, chunks: 1, completed: 1, failed: 0, total: 1, requestsPerSecond: 1, tokensPerSecond: 1, etaSeconds: 0, hold: null, updatedAt: 1 } })
    await new Promise((r) => setTimeout(r, 50))
    expect(rowCalls(service)).toHaveLength(before)

    service.comparison('cmp_1')!.rows[0].answers[B] = answer('echo: Question 1')
    service.push('batch.progress', { id: 'batch_b', progress: { chunk: 1, chunks: 1, completed: 1, failed: 0, total: N, requestsPerSecond: 1, tokensPerSecond: 1, etaSeconds: 10, hold: null, updatedAt: 1 } })
    await waitFor(() => expect(within(screen.getByTestId('row-c-1')).getByTestId(`answer-${B}`).textContent).toContain('echo: Question 1'))
    expect(rowCalls(service).length - before).toBe(1)
  })
})

describe('a comparison\'s address', () => {
  const reload = (): void => {
    cleanup()
    resetStores()
    startApp()
  }

  test('the current row, "differences only" and the search go into the address without history entries; a reload keeps them', async () => {
    const service = start()
    await screen.findByTestId('row-c-1')
    const entries = history.length
    press('j')
    press('j')
    press('j')
    await waitFor(() => expect(location.hash).toBe('#/compare/cmp_1?row=c-4'))
    fireEvent.click(screen.getByRole('checkbox', { name: 'Differences only' }))
    await waitFor(() => expect(current()).toBe('c-2'))
    press('j')
    await waitFor(() => expect(location.hash).toBe('#/compare/cmp_1?diff=1&row=c-5'))
    fireEvent.change(screen.getByTestId('rows-search'), { target: { value: 'Question 1' } })
    await waitFor(() => expect(location.hash).toBe('#/compare/cmp_1?q=Question%201&diff=1'))
    await waitFor(() => expect(current()).toBe('c-11'))
    press('j')
    await waitFor(() => expect(location.hash).toBe('#/compare/cmp_1?q=Question%201&diff=1&row=c-14'))
    expect(history.length).toBe(entries)

    const before = rowCalls(service).length
    reload()
    await waitFor(() => expect(current()).toBe('c-14'))
    expect(screen.getByRole('checkbox', { name: 'Differences only' })).toHaveProperty('checked', true)
    expect((screen.getByTestId('rows-search') as HTMLInputElement).value).toBe('Question 1')
    expect(rowCalls(service).slice(before).map((q) => [q.get('q'), q.get('differences'), q.get('offset')])).toEqual([['Question 1', 'true', '0']])
    // The keys go on from the restored row.
    press('2')
    await waitFor(() => expect(votes(service)).toEqual([['c-14', { winner: B }]]))
  })

  test('the page goes into the address; a link to a row on a later page opens that page on that row', async () => {
    const service = start()
    await screen.findByTestId('row-c-1')
    fireEvent.click(screen.getByRole('button', { name: 'Next' }))
    await waitFor(() => expect(current()).toBe(`c-${ROWS_PAGE_SIZE + 1}`))
    expect(location.hash).toBe('#/compare/cmp_1?page=2')

    history.replaceState(null, '', '/#/compare/cmp_1?page=2&row=c-28')
    const before = rowCalls(service).length
    reload()
    await waitFor(() => expect(current()).toBe('c-28'))
    expect(screen.getByTestId('pager-range').textContent).toBe(`Rows ${ROWS_PAGE_SIZE + 1}–${N} of ${N}`)
    expect(rowCalls(service).slice(before).map((q) => q.get('offset'))).toEqual([String(ROWS_PAGE_SIZE)])
    press('k')
    await waitFor(() => expect(location.hash).toBe('#/compare/cmp_1?page=2&row=c-27'))
  })

  test('a row no longer there, a page past the end or a bad page open the comparison anyway', async () => {
    start(undefined, '#/compare/cmp_1?page=9&row=c-gone')
    await waitFor(() => expect(screen.getByTestId('pager-range').textContent).toBe(`Rows ${ROWS_PAGE_SIZE + 1}–${N} of ${N}`))
    expect(current()).toBe(`c-${ROWS_PAGE_SIZE + 1}`)
    await waitFor(() => expect(location.hash).toBe('#/compare/cmp_1?page=2'))

    location.hash = '#/compare/cmp_1?page=zero&diff=sure'
    await waitFor(() => expect(current()).toBe('c-1'))
    expect(screen.getByRole('checkbox', { name: 'Differences only' })).toHaveProperty('checked', false)
    await waitFor(() => expect(location.hash).toBe('#/compare/cmp_1'))
  })
})

describe('the Compare view\'s start', () => {
  test('lists the comparisons, each a link to it', async () => {
    start(undefined, '#/compare')
    const list = await screen.findByTestId('comparison-list')
    const link = within(list).getByRole('link', { name: 'brief answers' })
    expect(link.getAttribute('href')).toBe('#/compare/cmp_1')
    fireEvent.click(link)
    expect(await screen.findByTestId('comparison-figures')).toBeTruthy()
  })

  test('compares existing jobs of different models: POST with their ids, then the comparison opens', async () => {
    const service = start((s) => {
      s.jobs.data.push(
        job({ id: 'batch_x', model: A, status: 'completed', request_counts: { total: 3, completed: 3, failed: 0 } }),
        job({ id: 'batch_y', model: B, status: 'completed', request_counts: { total: 3, completed: 3, failed: 0 } }),
        job({ id: 'batch_z', model: A, status: 'completed', request_counts: { total: 3, completed: 3, failed: 0 } }),
      )
    }, '#/compare')
    const card = await screen.findByTestId('compare-jobs')
    await within(card).findByRole('checkbox', { name: 'Compare batch_x' })
    fireEvent.click(within(card).getByRole('checkbox', { name: 'Compare batch_x' }))
    fireEvent.click(within(card).getByRole('checkbox', { name: 'Compare batch_z' }))
    expect(card.textContent).toContain('ran the same model')
    expect(within(card).getByRole('button', { name: 'Compare 2 jobs' })).toHaveProperty('disabled', true)
    fireEvent.click(within(card).getByRole('checkbox', { name: 'Compare batch_z' }))
    fireEvent.click(within(card).getByRole('checkbox', { name: 'Compare batch_y' }))
    fireEvent.click(within(card).getByRole('button', { name: 'Compare 2 jobs' }))
    await waitFor(() => expect(service.callsTo('POST', '/api/comparisons')).toHaveLength(1))
    expect(new Set((service.callsTo('POST', '/api/comparisons')[0].body as { batch_ids: string[] }).batch_ids)).toEqual(new Set(['batch_x', 'batch_y']))
    await waitFor(() => expect(location.hash).toBe('#/compare/cmp_2'))
    expect(await screen.findByTestId('comparison-view')).toBeTruthy()
  })

  describe('finds any job to compare, not only the first page of them', () => {
    /** 150 jobs, newest first: 149 of one model, and the oldest the only one of the other. */
    const many = (s: FakeService): void => {
      for (let i = 0; i < 149; i++) {
        s.jobs.data.push(job({ id: `batch_a${String(i).padStart(3, '0')}`, model: A, status: 'completed', created_at: 1_763_900_000 - i, request_counts: { total: 3, completed: 3, failed: 0 } }))
      }
      s.jobs.data.push(job({ id: 'batch_old', model: B, status: 'completed', created_at: 1_763_000_000, request_counts: { total: 3, completed: 3, failed: 0 } }))
    }
    const search = (text: string): void => {
      const box = within(screen.getByTestId('compare-jobs')).getByTestId('compare-jobs-search')
      fireEvent.change(box, { target: { value: text } })
      fireEvent.keyDown(box, { key: 'Enter' })
    }

    test('the filter by model or id, and older jobs read on demand', async () => {
      const service = start(many, '#/compare')
      const card = await screen.findByTestId('compare-jobs')
      await waitFor(() => expect(within(card).getByTestId('compare-jobs-count').textContent).toBe('100 jobs (older jobs not read yet)'))
      expect(within(card).queryByRole('checkbox', { name: 'Compare batch_old' })).toBeNull()

      search('llama')
      await waitFor(() => expect(within(card).getByTestId('compare-jobs-empty').textContent).toContain("No job matching 'llama' among the jobs read so far. Read older jobs"))
      fireEvent.click(within(card).getByRole('button', { name: 'Read older jobs' }))
      fireEvent.click(await within(card).findByRole('checkbox', { name: 'Compare batch_old' }))
      expect(within(card).getByTestId('compare-jobs-count').textContent).toBe('1 of 150 jobs match')
      expect(within(card).queryByRole('button', { name: 'Read older jobs' })).toBeNull()
      expect(queryOf(service.callsTo('GET', '/api/batches').at(-1)!).get('after')).toBe('batch_a099')

      search('a042')
      fireEvent.click(await within(card).findByRole('checkbox', { name: 'Compare batch_a042' }))
      // The job picked before stays listed (and picked) under another filter.
      expect(within(card).getByRole('checkbox', { name: 'Compare batch_old' })).toHaveProperty('checked', true)
      fireEvent.click(within(card).getByRole('button', { name: 'Compare 2 jobs' }))
      await waitFor(() => expect(service.callsTo('POST', '/api/comparisons')).toHaveLength(1))
      expect((service.callsTo('POST', '/api/comparisons')[0].body as { batch_ids: string[] }).batch_ids).toEqual(['batch_old', 'batch_a042'])
      await waitFor(() => expect(location.hash).toBe('#/compare/cmp_2'))
    })

    test('a whole batch id is looked up by itself, without reading every page', async () => {
      const service = start(many, '#/compare')
      const card = await screen.findByTestId('compare-jobs')
      await within(card).findByRole('checkbox', { name: 'Compare batch_a000' })
      // A prefix of ids read so far filters them; it is not looked up.
      search('batch_a04')
      await waitFor(() => expect(within(card).getByTestId('compare-jobs-count').textContent).toBe('10 of 100 jobs match (older jobs not read yet)'))
      expect(service.callsTo('GET', '/api/batches/batch_a04')).toHaveLength(0)
      search('batch_old')
      fireEvent.click(await within(card).findByRole('checkbox', { name: 'Compare batch_old' }))
      expect(service.callsTo('GET', '/api/batches/batch_old')).toHaveLength(1)
      expect(service.callsTo('GET', '/api/batches').every((c) => !queryOf(c).has('after'))).toBe(true)
      search('batch_nope')
      await waitFor(() => expect(card.textContent).toContain('No such batch: batch_nope'))
      search('batch_a000')
      fireEvent.click(await within(card).findByRole('checkbox', { name: 'Compare batch_a000' }))
      fireEvent.click(within(card).getByRole('button', { name: 'Compare 2 jobs' }))
      await waitFor(() => expect(service.callsTo('POST', '/api/comparisons')).toHaveLength(1))
      expect((service.callsTo('POST', '/api/comparisons')[0].body as { batch_ids: string[] }).batch_ids).toEqual(['batch_old', 'batch_a000'])
    })
  })
})
