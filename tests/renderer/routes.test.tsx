// @vitest-environment happy-dom
import { cleanup, fireEvent, screen, waitFor, within } from '@testing-library/react'
import { describe, expect, test } from 'vitest'
import { COMPARE_VIEW_START, JOB_VIEW_START, formatHash, parseHash, type Route } from '../../renderer/src/route'
import { resetStores } from '../../renderer/src/store/reset'
import { FakeService, job, result } from './fake-service'
import { startApp, startWithService } from './render-app'

describe('the address of a view', () => {
  test('each view has a hash, and the hash gives the view back', () => {
    const routes: Route[] = [
      { view: 'overview' },
      { view: 'job', batchId: 'batch_abc' },
      { view: 'compare', comparisonId: null },
      { view: 'compare', comparisonId: 'cmp_1' },
      { view: 'settings' },
    ]
    expect(routes.map(formatHash)).toEqual(['#/', '#/jobs/batch_abc', '#/compare', '#/compare/cmp_1', '#/settings'])
    for (const r of routes) expect(parseHash(formatHash(r))).toEqual(r)
  })

  test('no hash, an unknown one, or a job without an id is the overview; what follows & is not the route', () => {
    expect(parseHash('')).toEqual({ view: 'overview' })
    expect(parseHash('#/nowhere')).toEqual({ view: 'overview' })
    expect(parseHash('#/jobs/')).toEqual({ view: 'overview' })
    expect(parseHash('#/jobs/batch_1&key=k')).toEqual({ view: 'job', batchId: 'batch_1' })
    expect(parseHash('#/compare/')).toEqual({ view: 'compare', comparisonId: null })
    expect(parseHash('#/jobs/a%2Fb')).toEqual({ view: 'job', batchId: 'a/b' })
  })
})

describe('where a view stands, in its address', () => {
  test('a job view\'s search, filters, page and open request round-trip through the hash', () => {
    const route: Route = { view: 'job', batchId: 'batch_abc', params: { q: 'flip', state: 'failed', finishReason: 'length', page: 3, open: 'q7' } }
    expect(formatHash(route)).toBe('#/jobs/batch_abc?q=flip&state=failed&finish=length&page=3&open=q7')
    expect(parseHash(formatHash(route))).toEqual(route)
    // Only what differs from the start is written.
    expect(formatHash({ view: 'job', batchId: 'batch_abc', params: { ...JOB_VIEW_START, page: 2 } })).toBe('#/jobs/batch_abc?page=2')
    expect(formatHash({ view: 'job', batchId: 'batch_abc', params: JOB_VIEW_START })).toBe('#/jobs/batch_abc')
  })

  test('a comparison\'s search, differences only, page and current row round-trip through the hash', () => {
    const route: Route = { view: 'compare', comparisonId: 'cmp_1', params: { q: 'shout', differences: true, page: 2, row: 'c-28' } }
    expect(formatHash(route)).toBe('#/compare/cmp_1?q=shout&diff=1&page=2&row=c-28')
    expect(parseHash(formatHash(route))).toEqual(route)
    expect(parseHash('#/compare/cmp_1?diff=true')).toEqual({ view: 'compare', comparisonId: 'cmp_1', params: { ...COMPARE_VIEW_START, differences: true } })
    expect(formatHash({ view: 'compare', comparisonId: 'cmp_1', params: COMPARE_VIEW_START })).toBe('#/compare/cmp_1')
  })

  test('custom_ids and searches of any characters are percent-encoded and come back the same', () => {
    const odd = ['doc/7', 'a&b=c?d#e', '100% sure', 'a+b', 'naïve 日本', ' spaced ']
    for (const text of odd) {
      const job: Route = { view: 'job', batchId: 'batch/x', params: { ...JOB_VIEW_START, q: text, open: text } }
      const hash = formatHash(job)
      expect(hash.slice(1)).not.toMatch(/[#\s]/)
      expect(hash.split('?')[1].split('&')).toHaveLength(2) // no & or = of the value leaks into the query
      expect(parseHash(hash)).toEqual(job)
      const cmp: Route = { view: 'compare', comparisonId: 'cmp_1', params: { ...COMPARE_VIEW_START, q: text, row: text } }
      expect(parseHash(formatHash(cmp))).toEqual(cmp)
    }
  })

  test('bad values are left out, never an error: the view opens at its start for them', () => {
    for (const page of ['0', '-2', 'abc', '1.5', '', '99999999999999999999']) {
      expect(parseHash(`#/jobs/batch_abc?page=${page}`)).toEqual({ view: 'job', batchId: 'batch_abc' })
      expect(parseHash(`#/compare/cmp_1?page=${page}`)).toEqual({ view: 'compare', comparisonId: 'cmp_1' })
    }
    expect(parseHash('#/jobs/batch_abc?state=exploded&finish=%3Cscript%3E&open=')).toEqual({ view: 'job', batchId: 'batch_abc' })
    expect(parseHash('#/compare/cmp_1?diff=maybe&row=')).toEqual({ view: 'compare', comparisonId: 'cmp_1' })
    // A broken escape spoils only its own parameter.
    expect(parseHash('#/jobs/batch_abc?q=%E0%A4%A&state=failed')).toEqual({ view: 'job', batchId: 'batch_abc', params: { ...JOB_VIEW_START, state: 'failed' } })
    // Unknown parameters (the dashboard link's key among them) are not the view's; the first of a repeated one counts.
    expect(parseHash('#/jobs/batch_abc?key=k&color=red')).toEqual({ view: 'job', batchId: 'batch_abc' })
    expect(parseHash('#/jobs/batch_abc&q=a&key=k&q=b')).toEqual({ view: 'job', batchId: 'batch_abc', params: { ...JOB_VIEW_START, q: 'a' } })
    // Views without parameters ignore them.
    expect(parseHash('#/settings?page=2')).toEqual({ view: 'settings' })
    expect(parseHash('#/compare?diff=1')).toEqual({ view: 'compare', comparisonId: null })
  })

  test('a dashboard link with the key after a view\'s parameters: the key is used and taken out, the view keeps its search', async () => {
    const service = new FakeService().install()
    service.acceptKey = 's3cret'
    service.jobs.data.push(job())
    service.withResults('batch_abc', [result({ custom_id: 'q1' }), result({ custom_id: 'q2', line: 2, preview: 'other' })])
    history.replaceState(null, '', '/#/jobs/batch_abc?q=q2&key=s3cret')
    startApp()
    await waitFor(() => expect(screen.getAllByRole('row').map((r) => r.getAttribute('data-testid'))).toContain('result-q2'))
    expect(screen.queryByTestId('result-q1')).toBeNull()
    expect(location.hash).toBe('#/jobs/batch_abc?q=q2')
    expect((screen.getByTestId('results-search') as HTMLInputElement).value).toBe('q2')
    expect(service.callsTo('GET', '/api/batches/batch_abc/results').every((c) => c.authorization === 'Bearer s3cret')).toBe(true)
  })
})

describe('the views', () => {
  test('the nav shows each view, marks where you are, and puts it in the address', async () => {
    startWithService()
    await screen.findByRole('heading', { name: 'Engine' })
    const nav = screen.getByRole('navigation', { name: 'Views' })
    expect(within(nav).getByRole('link', { name: 'Overview' }).getAttribute('aria-current')).toBe('page')
    expect(screen.queryByTestId('settings')).toBeNull() // the settings card has its own view

    fireEvent.click(within(nav).getByRole('link', { name: 'Settings' }))
    expect(await screen.findByTestId('settings')).toBeTruthy()
    expect(location.hash).toBe('#/settings')
    expect(screen.queryByRole('heading', { name: 'Engine' })).toBeNull()
    expect(within(nav).getByRole('link', { name: 'Settings' }).getAttribute('aria-current')).toBe('page')

    fireEvent.click(within(nav).getByRole('link', { name: 'Compare' }))
    expect(await screen.findByTestId('compare-home')).toBeTruthy()
    expect(location.hash).toBe('#/compare')
  })

  test('a hash typed or changed by Back shows its view', async () => {
    startWithService((s) => s.withResults('batch_abc', [result()]).jobs.data.push(job()))
    await screen.findByRole('heading', { name: 'Engine' })
    location.hash = '#/jobs/batch_abc'
    expect(await screen.findByTestId('job-view')).toBeTruthy()
    expect(await screen.findByTestId('result-q1')).toBeTruthy()
    location.hash = '#/'
    expect(await screen.findByRole('heading', { name: 'Engine' })).toBeTruthy()
    expect(screen.queryByTestId('job-view')).toBeNull()
  })

  test('a reload keeps the view: the page opens where the address says', async () => {
    const { service } = startWithService((s) => s.withResults('batch_abc', [result()]).jobs.data.push(job()), '#/jobs/batch_abc')
    expect(await screen.findByTestId('job-view')).toBeTruthy()
    await waitFor(() => expect(service.callsTo('GET', '/api/batches/batch_abc/results')).toHaveLength(1))

    // "Reload": the page starts again from scratch with the same address and the kept key.
    cleanup()
    resetStores()
    startApp()
    expect(await screen.findByTestId('job-view')).toBeTruthy()
    expect(await screen.findByTestId('result-q1')).toBeTruthy()
    expect(location.hash).toBe('#/jobs/batch_abc')
    expect(screen.queryByRole('heading', { name: 'Engine' })).toBeNull()
  })

  test('a job in the queue links to its Job view', async () => {
    startWithService((s) => {
      s.jobs.data.push(job({ id: 'batch_abc' }))
      s.withResults('batch_abc', [result()])
    })
    const row = await screen.findByTestId('job-batch_abc')
    fireEvent.click(within(row).getByRole('link', { name: 'batch_abc' }))
    expect(await screen.findByTestId('job-view')).toBeTruthy()
    expect(location.hash).toBe('#/jobs/batch_abc')
    expect((await screen.findByTestId('job-summary')).textContent).toContain('Job batch_abc')
  })

  test('a file dropped on a view without the drop panel opens the overview with its preview', async () => {
    startWithService(undefined, '#/settings')
    await screen.findByTestId('settings')
    const text = JSON.stringify({ custom_id: 'a', method: 'POST', url: '/v1/chat/completions', body: { model: 'gemma-3-12b', messages: [] } })
    fireEvent.drop(document.body, { dataTransfer: { types: ['Files'], files: [new File([text], 'dropped.jsonl')] } })
    await waitFor(() => expect(screen.getByTestId('drop-preview').textContent).toContain('1 line'))
    expect(location.hash).toBe('#/')
  })
})
