import { describe, expect, it } from 'vitest'
import { FirstLines } from '../../main/contract/first-lines'
import { prng } from '../helpers/prng'

describe('FirstLines', () => {
  it('gives back the line stored for an id, and undefined for any other', () => {
    const ids = new FirstLines()
    ids.set('a', 1)
    ids.set('ab', 2)
    ids.set('', 3)
    ids.set('😀', 4)
    expect([ids.get('a'), ids.get('ab'), ids.get(''), ids.get('😀'), ids.get('b'), ids.get('a ')]).toEqual([1, 2, 3, 4, undefined, undefined])
    ids.set('a', 9)
    expect([ids.get('a'), ids.size]).toEqual([9, 4])
  })

  it('agrees with a Map over 100,000 ids of all lengths while it grows', () => {
    const random = prng(7)
    const ids = new FirstLines()
    const reference = new Map<string, number>()
    const alphabet = 'ab-_0é東😀'
    const wrong: string[] = []
    for (let line = 1; line <= 100_000; line++) {
      let id = ''
      for (let n = Math.floor(random() * 12); n > 0; n--) id += alphabet[Math.floor(random() * alphabet.length)]
      if (random() < 0.1) id = `req-${line}`.repeat(1 + Math.floor(random() * 40)) // long ones too
      if (ids.get(id) !== reference.get(id)) wrong.push(id)
      if (!reference.has(id)) {
        reference.set(id, line)
        ids.set(id, line)
      }
    }
    for (const [id, line] of reference) if (ids.get(id) !== line) wrong.push(id)
    expect(wrong).toEqual([])
    expect(ids.size).toBe(reference.size)
  })
})
