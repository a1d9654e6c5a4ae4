import { Readable } from 'node:stream'
import { describe, expect, it } from 'vitest'
import { readLines, type RawLine } from '../../main/batch/jsonl-lines'

async function collect(chunks: Buffer[], max = 1024): Promise<RawLine[]> {
  const out: RawLine[] = []
  for await (const l of readLines(Readable.from(chunks), max)) out.push({ ...l, bytes: l.bytes && Buffer.from(l.bytes) })
  return out
}

/** Splits a buffer into pieces of the given size, to put line ends on chunk boundaries. */
const pieces = (buf: Buffer, size: number): Buffer[] => Array.from({ length: Math.ceil(buf.length / size) }, (_, i) => buf.subarray(i * size, (i + 1) * size))

describe('readLines', () => {
  it('gives each line with its byte offset and length, whatever the chunking', async () => {
    const text = Buffer.from('alpha\nbé\n\nlast-without-newline')
    for (const size of [1, 2, 3, 7, 100]) {
      const lines = await collect(pieces(text, size))
      expect(lines.map((l) => [l.line, l.offset, l.length, l.bytes?.toString()])).toEqual([
        [1, 0, 5, 'alpha'],
        [2, 6, 3, 'bé'],
        [3, 10, 0, ''],
        [4, 11, 20, 'last-without-newline'],
      ])
      for (const l of lines) expect(text.subarray(l.offset, l.offset + l.length).equals(l.bytes!)).toBe(true)
    }
  })

  it('reports a line longer than the cap without keeping its bytes, and carries on', async () => {
    const text = Buffer.from(`${'x'.repeat(50)}\nok\n`)
    for (const size of [4, 64]) {
      const lines = await collect(pieces(text, size), 10)
      expect(lines.map((l) => [l.line, l.offset, l.length, l.bytes?.toString() ?? null])).toEqual([
        [1, 0, 50, null],
        [2, 51, 2, 'ok'],
      ])
    }
  })

  it('gives nothing for an empty stream and one line for a file ending in a newline', async () => {
    expect(await collect([])).toEqual([])
    expect((await collect([Buffer.from('a\n')])).length).toBe(1)
  })
})
