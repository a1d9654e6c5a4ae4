/**
 * A word-level diff between two answers, for the comparison's side-by-side rows: the longest common
 * subsequence of their words, with the rest marked as removed (only in the first) or added (only in the
 * second). Pure. Words are runs of non-space characters; each keeps the spaces that follow it in its own text,
 * so joining a side's parts gives that text back exactly.
 */

export type DiffKind = 'same' | 'removed' | 'added'

export interface DiffPart {
  kind: DiffKind
  text: string
}

/**
 * Above this many cells (words of one side times words of the other, once the common start and end are set
 * aside) the middle is marked as changed as a whole instead of aligned: the table would cost more memory and
 * time than a row of the window may take (2,000 words a side is 4 million cells, ~16 MB).
 */
export const MAX_DIFF_CELLS = 4_000_000

interface Word {
  /** The word alone (what is compared). */
  word: string
  /** The word and the spaces after it (what is shown). */
  text: string
}

/** The text's words; leading spaces, if any, come back as `lead`. */
export function splitWords(text: string): { lead: string; words: Word[] } {
  const lead = /^\s*/.exec(text)?.[0] ?? ''
  const words: Word[] = []
  const re = /(\S+)(\s*)/g
  re.lastIndex = lead.length
  for (let m = re.exec(text); m !== null; m = re.exec(text)) words.push({ word: m[1], text: m[0] })
  return { lead, words }
}

function push(parts: DiffPart[], kind: DiffKind, text: string): void {
  if (text === '') return
  const last = parts.at(-1)
  if (last && last.kind === kind) last.text += text
  else parts.push({ kind, text })
}

/**
 * The diff of `before` and `after` as one sequence: `same` runs (with `after`'s spacing), `removed` runs from
 * `before` and `added` runs from `after`; at a change, what was removed comes before what was added.
 */
export function wordDiff(before: string, after: string): DiffPart[] {
  const a = splitWords(before)
  const b = splitWords(after)
  const parts: DiffPart[] = []
  if (b.lead !== '' || a.lead !== '') {
    if (a.lead === b.lead) push(parts, 'same', b.lead)
    else {
      push(parts, 'removed', a.lead)
      push(parts, 'added', b.lead)
    }
  }
  for (const op of align(a.words, b.words)) {
    if (op.kind === 'same') push(parts, 'same', b.words[op.j].text)
    else if (op.kind === 'removed') push(parts, 'removed', a.words[op.i].text)
    else push(parts, 'added', b.words[op.j].text)
  }
  return parts
}

/** Each side on its own, for two columns: `before` as same/removed runs, `after` as same/added runs. */
export function diffSides(before: string, after: string): { before: DiffPart[]; after: DiffPart[] } {
  const a = splitWords(before)
  const b = splitWords(after)
  const left: DiffPart[] = []
  const right: DiffPart[] = []
  push(left, 'same', a.lead)
  push(right, 'same', b.lead)
  for (const op of align(a.words, b.words)) {
    if (op.kind === 'same') {
      push(left, 'same', a.words[op.i].text)
      push(right, 'same', b.words[op.j].text)
    } else if (op.kind === 'removed') push(left, 'removed', a.words[op.i].text)
    else push(right, 'added', b.words[op.j].text)
  }
  return { before: left, after: right }
}

type Op = { kind: 'same'; i: number; j: number } | { kind: 'removed'; i: number } | { kind: 'added'; j: number }

/** The edit script from a to b: LCS over the words between the common start and end. */
function align(a: Word[], b: Word[]): Op[] {
  let start = 0
  while (start < a.length && start < b.length && a[start].word === b[start].word) start++
  let endA = a.length
  let endB = b.length
  while (endA > start && endB > start && a[endA - 1].word === b[endB - 1].word) {
    endA--
    endB--
  }
  const ops: Op[] = []
  for (let k = 0; k < start; k++) ops.push({ kind: 'same', i: k, j: k })
  const n = endA - start
  const m = endB - start
  if (n > 0 && m > 0 && (n + 1) * (m + 1) <= MAX_DIFF_CELLS) {
    // lcs[i][j]: the LCS length of a[start+i..endA) and b[start+j..endB), row-major in one typed array.
    const width = m + 1
    const lcs = new Uint32Array((n + 1) * width)
    for (let i = n - 1; i >= 0; i--) {
      for (let j = m - 1; j >= 0; j--) {
        lcs[i * width + j] =
          a[start + i].word === b[start + j].word ? lcs[(i + 1) * width + j + 1] + 1 : Math.max(lcs[(i + 1) * width + j], lcs[i * width + j + 1])
      }
    }
    let i = 0
    let j = 0
    while (i < n && j < m) {
      if (a[start + i].word === b[start + j].word) {
        ops.push({ kind: 'same', i: start + i, j: start + j })
        i++
        j++
      } else if (lcs[(i + 1) * width + j] >= lcs[i * width + j + 1]) {
        ops.push({ kind: 'removed', i: start + i })
        i++
      } else {
        ops.push({ kind: 'added', j: start + j })
        j++
      }
    }
    for (; i < n; i++) ops.push({ kind: 'removed', i: start + i })
    for (; j < m; j++) ops.push({ kind: 'added', j: start + j })
  } else {
    for (let i = start; i < endA; i++) ops.push({ kind: 'removed', i })
    for (let j = start; j < endB; j++) ops.push({ kind: 'added', j })
  }
  for (let k = 0; k < a.length - endA; k++) ops.push({ kind: 'same', i: endA + k, j: endB + k })
  return sortChanges(ops)
}

/** Within each run of changes, the removed words first, then the added ones (as diffs are read). */
function sortChanges(ops: Op[]): Op[] {
  const out: Op[] = []
  let removed: Op[] = []
  let added: Op[] = []
  const flush = (): void => {
    out.push(...removed, ...added)
    removed = []
    added = []
  }
  for (const op of ops) {
    if (op.kind === 'same') {
      flush()
      out.push(op)
    } else if (op.kind === 'removed') removed.push(op)
    else added.push(op)
  }
  flush()
  return out
}
