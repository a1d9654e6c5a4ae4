/**
 * Benchmark: the results viewer and the comparison on 200,000-request jobs. Search (full text over prompt and
 * answer), filters and deep pages of one job, and pages of 50 aligned rows of a comparison of two such jobs
 * (the second answers a tenth of the requests differently), through the real service's HTTP API.
 *
 *   npx tsx tests/bench/results-search.ts [--requests 200000]
 *
 * The job is written straight into a fresh data dir through the service's own store (the same repositories
 * and the same commit the runner uses, so the search index is filled exactly as it is in production), then the
 * service is started on that dir (launcher.ts) and 20 queries are timed over HTTP, each run 3 times: p50 and
 * p95 of their times (target: p95 under 300 ms); then pages of comparison rows and the comparison's figures. It
 * is a benchmark, not a test: a missed target prints MISS.
 */
import { bench } from './launcher'
import { openStore } from '../../main/store'
import { newBatchRow } from '../../main/store/batch-row'
import type { RequestResult } from '../../main/store/results-repo'
import type { ResultPage } from '../../main/contract/results'
import { prng } from '../helpers/prng'

const args = process.argv.slice(2)
const REQUESTS = Number(args[args.indexOf('--requests') + 1]) || 200_000
const TARGET_P95_MS = 300
const REPEAT = 3

/** A vocabulary with a long tail: word k is drawn with weight 1/(k+1), so some words are everywhere and most are rare. */
function vocabulary(random: () => number): { words: string[]; pick: () => string } {
  const syllables = ['ka', 'lo', 'mi', 'ne', 'ru', 'sa', 'ti', 'vo', 'ze', 'qua', 'bri', 'sto']
  const words = Array.from({ length: 3000 }, (_, k) => {
    let w = ''
    for (let n = 2 + (k % 3), x = k + 7; n > 0; n--, x = Math.floor(x / syllables.length) + k) w += syllables[x % syllables.length]
    return `${w}${k}`
  })
  const cumulative: number[] = []
  let sum = 0
  for (let k = 0; k < words.length; k++) cumulative.push((sum += 1 / (k + 1)))
  const pick = (): string => {
    const r = random() * sum
    let lo = 0
    let hi = cumulative.length - 1
    while (lo < hi) {
      const mid = (lo + hi) >> 1
      if (cumulative[mid] < r) lo = mid + 1
      else hi = mid
    }
    return words[lo]
  }
  return { words, pick }
}

const COMPARISON_ID = 'cmp_benchresultssearch0001'

/** Two completed batches of REQUESTS results each (b's answers differ on every tenth line), and a comparison of them. */
function fill(dataDir: string): string {
  const store = openStore(dataDir)
  try {
    const a = fillBatch(store, 'batch_benchresultssearch0001', 'bench-a', false)
    const b = fillBatch(store, 'batch_benchresultssearch0002', 'bench-b', true)
    store.comparisons.insert({ id: COMPARISON_ID, name: 'bench', input_file_id: null, created_at: Math.floor(Date.now() / 1000) }, [
      { batch_id: a, model: 'bench-a' },
      { batch_id: b, model: 'bench-b' },
    ])
    return a
  } finally {
    store.close()
  }
}

function fillBatch(store: ReturnType<typeof openStore>, id: string, model: string, variant: boolean): string {
  const random = prng(11)
  const { pick } = vocabulary(random)
  const sentence = (n: number): string => Array.from({ length: n }, pick).join(' ')
  {
    const now = Math.floor(Date.now() / 1000)
    store.batches.insert(newBatchRow({ id, endpoint: '/v1/chat/completions', input_file_id: 'file-bench', completion_window: '24h', status: 'completed', created_at: now, expires_at: now + 86_400, total: REQUESTS, model }))
    const seq = store.batches.seqOf(id)
    const CHUNK = 5000
    let offset = 0
    for (let start = 1; start <= REQUESTS; start += CHUNK) {
      const lines = Array.from({ length: Math.min(CHUNK, REQUESTS - start + 1) }, (_, i) => start + i)
      store.requests.insertMany(id, lines.map((line) => ({ line, custom_id: `req-${line}`, offset: (offset += 400), length: 400 })))
      const results: RequestResult[] = lines.map((line) => {
        const failed = line % 97 === 0
        const prompt = sentence(20 + (line % 30))
        const base = sentence(40 + (line % 60))
        const answer = failed ? null : variant && line % 10 === 0 ? `${base} (a second opinion)` : base
        return {
          line,
          customId: `req-${line}`,
          state: failed ? 'failed' : 'succeeded',
          attempts: 1,
          statusCode: failed ? 400 : 200,
          requestId: `r-${line}`,
          body: failed
            ? JSON.stringify({ error: { message: `bad request ${pick()}` } })
            : JSON.stringify({ choices: [{ index: 0, message: { role: 'assistant', content: answer }, finish_reason: line % 13 === 0 ? 'length' : 'stop' }], usage: { prompt_tokens: 30, completion_tokens: 60 } }),
          errorCode: null,
          errorMessage: failed ? `bad request` : null,
          usage: { input: 30, cached: 0, output: 60, reasoning: 0 },
          startedAt: Date.now() - 50,
          finishedAt: Date.now(),
          promptText: prompt,
          answerText: answer,
          finishReason: failed ? null : line % 13 === 0 ? 'length' : 'stop',
        }
      })
      store.results.commit(seq, results)
    }
    return id
  }
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]
}

bench.run('results-search', async () => {
  const dataDir = bench.tempDir('vbs-bench-results-')
  bench.step = `writing ${REQUESTS.toLocaleString('en-US')} results`
  const t0 = Date.now()
  const id = fill(dataDir)
  const fillS = (Date.now() - t0) / 1000
  bench.step = 'starting the service'
  const service = await bench.start({ dataDir, env: { VBS_LOG_LEVEL: 'warn' } })
  const { words } = vocabulary(prng(11))
  const queries: [string, string][] = [
    ['a common word', `q=${words[0]}`],
    ['a common word, page 100', `q=${words[0]}&offset=5000`],
    ['a frequent word', `q=${words[3]}`],
    ['a mid word', `q=${words[60]}`],
    ['a rare word', `q=${words[2500]}`],
    ['two common words', `q=${words[0]}+${words[1]}`],
    ['a common and a rare word', `q=${words[0]}+${words[1800]}`],
    ['three words', `q=${words[2]}+${words[10]}+${words[40]}`],
    ['a prefix', `q=${words[120].slice(0, 5)}`],
    ['a phrase', `q=${encodeURIComponent(`"${words[0]} ${words[1]}"`)}`],
    ['no match', 'q=zzzzqqqq'],
    ['common word, failed only', `q=${words[0]}&state=failed`],
    ['common word, finish_reason=length', `q=${words[0]}&finish_reason=length`],
    ['errors by word', 'q=bad+request'],
    ['all, first page', ''],
    ['all, page 3,000', 'offset=150000'],
    ['failed only', 'state=failed'],
    ['failed only, deep page', 'state=failed&offset=1500'],
    ['finish_reason=length', 'finish_reason=length'],
    ['finish_reason=length, deep page', 'finish_reason=length&offset=10000'],
  ]
  const comparisonQueries: [string, string][] = [
    ['rows, first page', `/api/comparisons/${COMPARISON_ID}/rows?limit=50`],
    ['rows, page 3,000', `/api/comparisons/${COMPARISON_ID}/rows?limit=50&offset=150000`],
    ['rows, differences only', `/api/comparisons/${COMPARISON_ID}/rows?limit=50&differences=true`],
    ['rows, differences, deep page', `/api/comparisons/${COMPARISON_ID}/rows?limit=50&differences=true&offset=15000`],
    ['rows, a rare word', `/api/comparisons/${COMPARISON_ID}/rows?limit=50&q=${words[2500]}`],
    ['the comparison and its figures', `/api/comparisons/${COMPARISON_ID}`],
  ]
  const comparisonRows: { name: string; total: number | null; ms: number }[] = []
  const rows: { name: string; total: number; ms: number }[] = []
  await bench.measure(async () => {
    for (const [name, query] of queries) {
      bench.step = `query "${name}"`
      for (let i = 0; i < REPEAT; i++) {
        const started = performance.now()
        const page = await service.api<ResultPage>(`/api/batches/${id}/results?limit=50${query ? `&${query}` : ''}`)
        rows.push({ name, total: page.total, ms: performance.now() - started })
      }
    }
    for (const [name, url] of comparisonQueries) {
      bench.step = `comparison "${name}"`
      for (let i = 0; i < REPEAT; i++) {
        const started = performance.now()
        const body = await service.api<{ total?: number; rows?: number }>(url)
        comparisonRows.push({ name, total: body.total ?? body.rows ?? null, ms: performance.now() - started })
      }
    }
  })
  const times = rows.map((r) => r.ms).sort((a, b) => a - b)
  const p50 = percentile(times, 50)
  const p95 = percentile(times, 95)
  console.log(`\nresults search on a ${REQUESTS.toLocaleString('en-US')}-request job (written in ${fillS.toFixed(1)} s; ${queries.length} queries x ${REPEAT}, page of 50, over HTTP)\n`)
  console.log('| query | matches | slowest ms |')
  console.log('| --- | ---: | ---: |')
  for (const [name] of queries) {
    const mine = rows.filter((r) => r.name === name)
    console.log(`| ${name} | ${mine[0].total.toLocaleString('en-US')} | ${Math.max(...mine.map((r) => r.ms)).toFixed(1)} |`)
  }
  console.log(`\n| metric | value | target |\n| --- | ---: | --- |`)
  console.log(`| p50 | ${p50.toFixed(1)} ms | |`)
  console.log(`| p95 | ${p95.toFixed(1)} ms | < ${TARGET_P95_MS} ms ${p95 < TARGET_P95_MS ? 'PASS' : 'MISS'} |`)
  console.log(`\ncomparison of two ${REQUESTS.toLocaleString('en-US')}-request jobs (x ${REPEAT}, page of 50 aligned rows)\n`)
  console.log('| request | rows | median ms | slowest ms |')
  console.log('| --- | ---: | ---: | ---: |')
  for (const [name] of comparisonQueries) {
    const mine = comparisonRows.filter((r) => r.name === name).map((r) => r.ms).sort((x, y) => x - y)
    const total = comparisonRows.find((r) => r.name === name)?.total
    console.log(`| ${name} | ${total === null || total === undefined ? '' : total.toLocaleString('en-US')} | ${mine[Math.floor(mine.length / 2)].toFixed(1)} | ${mine[mine.length - 1].toFixed(1)} |`)
  }
  await bench.cleanup()
})
