// @vitest-environment happy-dom
import { cleanup, fireEvent, screen, waitFor, within } from '@testing-library/react'
import { describe, expect, test } from 'vitest'
import { formatHash, parseHash, type Route } from '../../renderer/src/route'
import { resetStores } from '../../renderer/src/store/reset'
import { job, result } from './fake-service'
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
