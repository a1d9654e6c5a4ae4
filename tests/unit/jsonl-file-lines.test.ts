import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { Readable } from 'node:stream'
import { isDeepStrictEqual } from 'node:util'
import { afterAll, describe, expect, it } from 'vitest'
import { forEachLine, forEachLineOfFile, readLines } from '../../main/batch/jsonl-lines'

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vbs-lines-'))
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }))

type Seen = [line: number, offset: number, length: number, text: string | null]

/** The lines as handed over, copied during the call (their bytes are only valid then). */
async function viaFile(text: Buffer, max: number): Promise<Seen[]> {
  const file = path.join(dir, `f-${Math.random().toString(36).slice(2)}.jsonl`)
  fs.writeFileSync(file, text)
  const seen: Seen[] = []
  await forEachLineOfFile(file, max, (line, bytes, offset, length) => {
    seen.push([line, offset, length, bytes && bytes.toString('latin1')])
  })
  return seen
}

async function viaIterator(text: Buffer, max: number): Promise<Seen[]> {
  const seen: Seen[] = []
  for await (const l of readLines(Readable.from([text]), max)) seen.push([l.line, l.offset, l.length, l.bytes && l.bytes.toString('latin1')])
  return seen
}

describe('forEachLineOfFile', () => {
  it('hands over the same lines as readLines, across its 1 MiB reads (one buffer, used again)', async () => {
    // Lines of many lengths, so line ends fall on, just before and just after the read boundaries; one of them
    // spans three reads, one is over the cap.
    const parts: string[] = []
    for (let i = 0, bytes = 0; bytes < 3.5 * 1024 * 1024; i++) {
      parts.push(`${i}:${'x'.repeat((i * 7919) % 3000)}`)
      bytes += parts[i].length + 1
    }
    parts.splice(40, 0, 'y'.repeat(2.2 * 1024 * 1024), 'z'.repeat(5 * 1024 * 1024))
    const text = Buffer.from(parts.join('\n') + '\nlast-without-newline')
    const max = 4 * 1024 * 1024
    const seen = await viaFile(text, max)
    // Compared as booleans: a failing diff of megabyte strings helps no one.
    expect(isDeepStrictEqual(seen, await viaIterator(text, max))).toBe(true)
    expect(seen.length).toBe(parts.length + 1)
    expect(seen[40][3] === 'y'.repeat(2.2 * 1024 * 1024)).toBe(true)
    expect(seen[41]).toEqual([42, seen[41][1], 5 * 1024 * 1024, null])
    expect(seen.at(-1)?.[3]).toBe('last-without-newline')
    for (const [line, offset, length, bytes] of seen) {
      if (bytes !== null) expect(text.toString('latin1', offset, offset + length) === bytes, `line ${line}`).toBe(true)
    }
  })

  it('stops when the handler says so, and closes the file', async () => {
    const file = path.join(dir, 'stop.jsonl')
    fs.writeFileSync(file, 'a\nb\nc\n')
    const lines: number[] = []
    await forEachLineOfFile(file, 100, (line) => {
      lines.push(line)
      return line < 2
    })
    expect(lines).toEqual([1, 2])
    fs.rmSync(file) // an open handle would not keep the test from it on Linux, but a leak would show in the process
  })

  it('forEachLine does the same over a stream', async () => {
    const lines: string[] = []
    await forEachLine(Readable.from([Buffer.from('one\ntw'), Buffer.from('o\n\nthree')]), 100, (_line, bytes) => {
      lines.push(bytes!.toString())
    })
    expect(lines).toEqual(['one', 'two', '', 'three'])
  })
})
