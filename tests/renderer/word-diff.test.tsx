import { describe, expect, test } from 'vitest'
import { MAX_DIFF_CELLS, diffSides, splitWords, wordDiff, type DiffPart } from '../../renderer/src/word-diff'

const join = (parts: DiffPart[]): string => parts.map((p) => p.text).join('')
const marked = (parts: DiffPart[], kind: DiffPart['kind']): string[] => parts.filter((p) => p.kind === kind).map((p) => p.text.trim())

describe('the word diff', () => {
  test('equal answers are one unchanged run', () => {
    expect(wordDiff('echo: Question 1', 'echo: Question 1')).toEqual([{ kind: 'same', text: 'echo: Question 1' }])
    expect(wordDiff('', '')).toEqual([])
  })

  test('a changed word is marked removed then added, the rest unchanged', () => {
    expect(wordDiff('the cat sat on the mat', 'the dog sat on the mat')).toEqual([
      { kind: 'same', text: 'the ' },
      { kind: 'removed', text: 'cat ' },
      { kind: 'added', text: 'dog ' },
      { kind: 'same', text: 'sat on the mat' },
    ])
  })

  test('runs of added and removed words are merged, and the longest common subsequence is kept', () => {
    const parts = wordDiff('a b c d e f', 'a x y c d z f')
    expect(parts).toEqual([
      { kind: 'same', text: 'a ' },
      { kind: 'removed', text: 'b ' },
      { kind: 'added', text: 'x y ' },
      { kind: 'same', text: 'c d ' },
      { kind: 'removed', text: 'e ' },
      { kind: 'added', text: 'z ' },
      { kind: 'same', text: 'f' },
    ])
  })

  test('words in reverse order (the fake engine\'s [flip]) keep one word in common at most', () => {
    const sides = diffSides('echo: Question 5 [flip]', '[flip] 5 Question echo:')
    expect(join(sides.before)).toBe('echo: Question 5 [flip]')
    expect(join(sides.after)).toBe('[flip] 5 Question echo:')
    expect(sides.before.filter((p) => p.kind === 'same')).toHaveLength(1)
    expect(sides.before.every((p) => p.kind !== 'added')).toBe(true)
    expect(sides.after.every((p) => p.kind !== 'removed')).toBe(true)
  })

  test('the comparison is exact: case and punctuation count (the service\'s normalised agreement sets them aside)', () => {
    const sides = diffSides('echo: Question 3 [shout]', 'ECHO: QUESTION 3 [SHOUT]!')
    expect(marked(sides.before, 'removed')).toEqual(['echo: Question', '[shout]'])
    expect(marked(sides.after, 'added')).toEqual(['ECHO: QUESTION', '[SHOUT]!'])
  })

  test('each side joins back to its own text, spacing and line breaks included', () => {
    const a = '  First line.\nSecond   line here.\n\nThird.'
    const b = 'First line.\nSecond line there.\n\nThird!  '
    const sides = diffSides(a, b)
    expect(join(sides.before)).toBe(a)
    expect(join(sides.after)).toBe(b)
    // The one-sequence diff shows unchanged words with the second text's spacing: without the removed runs it is that text.
    expect(join(wordDiff(a, b).filter((p) => p.kind !== 'removed'))).toBe(b)
  })

  test('an empty side is all added or all removed', () => {
    expect(wordDiff('', 'new words')).toEqual([{ kind: 'added', text: 'new words' }])
    expect(wordDiff('old words', '')).toEqual([{ kind: 'removed', text: 'old words' }])
  })

  test('answers too long to align are still marked, as one changed middle between the common start and end', () => {
    const n = Math.ceil(Math.sqrt(MAX_DIFF_CELLS)) + 10
    const a = ['start', ...Array.from({ length: n }, (_, i) => `a${i}`), 'end'].join(' ')
    const b = ['start', ...Array.from({ length: n }, (_, i) => `b${i}`), 'end'].join(' ')
    const t0 = performance.now()
    const parts = wordDiff(a, b)
    expect(performance.now() - t0).toBeLessThan(1000)
    expect(parts.map((p) => p.kind)).toEqual(['same', 'removed', 'added', 'same'])
    expect(parts[0].text).toBe('start ')
    expect(parts[3].text).toBe('end')
  })

  test('splitWords keeps each word with the spaces after it', () => {
    expect(splitWords(' a  b\nc')).toEqual({ lead: ' ', words: [{ word: 'a', text: 'a  ' }, { word: 'b', text: 'b\n' }, { word: 'c', text: 'c' }] })
  })
})
