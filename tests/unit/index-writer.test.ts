import { afterEach, describe, expect, it } from 'vitest'
import { openStore, type Store } from '../../main/store'
import { newBatchRow } from '../../main/store/batch-row'
import { IndexWriter } from '../../main/store/index-writer'
import type { RequestIndexRow } from '../../main/store/requests-repo'
import { tempDir } from '../helpers/service'

const stores: Store[] = []
const writers: IndexWriter[] = []
afterEach(async () => {
  for (const w of writers.splice(0)) await w.close()
  for (const s of stores.splice(0)) s.close()
})

/** A store with one input file and batch `batch_<name>` for it. */
function storeWithBatches(...names: string[]): Store {
  const store = openStore(tempDir('vbs-index-writer-'))
  stores.push(store)
  store.files.insert({ id: 'file-in', filename: 'in.jsonl', purpose: 'batch', bytes: 1, line_count: 1, created_at: 0, expires_at: null })
  for (const name of names) {
    store.batches.insert(
      newBatchRow({ id: `batch_${name}`, endpoint: '/v1/chat/completions', input_file_id: 'file-in', completion_window: '24h', status: 'validating', created_at: 0, expires_at: 1 }),
    )
  }
  return store
}

/** n index rows as a validation makes them: line k holds custom_id `<prefix>-k`, lines of 100 to 199 bytes. */
function rows(n: number, prefix: string, from = 1): RequestIndexRow[] {
  let offset = 0
  return Array.from({ length: n }, (_, i) => {
    const length = 100 + ((i * 37) % 100)
    const row = { line: from + i, custom_id: `${prefix}-${from + i} “ü”`, offset, length }
    offset += length + 1
    return row
  })
}

const slices = <T>(all: T[], size: number): T[][] => Array.from({ length: Math.ceil(all.length / size) }, (_, i) => all.slice(i * size, (i + 1) * size))

describe('the index writer thread', () => {
  it('stores the same index as insertMany, in any number of slices, and the main connection reads it after flush', async () => {
    const store = storeWithBatches('a', 'b')
    const all = rows(12_345, 'req')
    const writer = store.requests.bulkWriter('batch_a')
    writers.push(writer)
    // Slices of 1,000 rows (more than the writer keeps in flight): ready() holds the caller back, nothing is lost.
    for (const slice of slices(all, 1000)) {
      writer.add(slice)
      await writer.ready()
    }
    await writer.flush()
    store.requests.insertMany('batch_b', all)

    const read = (id: string): RequestIndexRow[] => [...store.requests.iterate(id)].map(({ line, custom_id, offset, length }) => ({ line, custom_id, offset, length }))
    expect(read('batch_a')).toEqual(all)
    expect(read('batch_a')).toEqual(read('batch_b'))
    expect(store.requests.countByState('batch_a')).toEqual({ pending: 12_345 })
  })

  it('reports a slice the database refuses with its code, and stores nothing of that slice', async () => {
    const store = storeWithBatches('a')
    const writer = store.requests.bulkWriter('batch_a')
    writers.push(writer)
    writer.add(rows(300, 'ok'))
    // A custom_id twice in one batch: the unique index refuses the slice's transaction as a whole.
    const bad = rows(250, 'dup', 301)
    bad[200] = { ...bad[200], custom_id: bad[10].custom_id }
    writer.add(bad)
    const err = await writer.flush().then(
      () => null,
      (e: unknown) => e as Error & { code?: string },
    )
    expect(err?.code).toBe('SQLITE_CONSTRAINT_UNIQUE')
    expect(err?.message).toMatch(/UNIQUE constraint failed/)
    // Later calls say so too, instead of writing on.
    expect(() => writer.add(rows(1, 'late', 1000))).toThrow(/UNIQUE constraint failed/)
    await expect(writer.ready()).rejects.toThrow(/UNIQUE constraint failed/)
    expect(store.requests.countByState('batch_a')).toEqual({ pending: 300 })
    await writer.close()
    // Closing twice is harmless.
    await writer.close()
  })

  it('says at start whether a thread can write: the probe of a store passes, a thread that cannot open the database rejects', async () => {
    const store = storeWithBatches('a')
    await expect(store.requests.probeBulkWriter()).resolves.toBeUndefined()
    const missing = new IndexWriter({ file: `${tempDir('vbs-index-writer-')}/no-such-dir/db.sqlite`, pragmas: [], insertOne: 'SELECT 1', insertBlock: 'SELECT 1', rowsPerInsert: 1 }, 1)
    writers.push(missing)
    await expect(missing.started()).rejects.toThrow(/directory does not exist|unable to open|no such/i)
    expect(() => missing.add(rows(1, 'x'))).toThrow()
  })
})
