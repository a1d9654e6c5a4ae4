/**
 * The keys of the comparison view, as a labeller uses them: 1–4 vote for a model (in the order of the columns),
 * t a tie, b both bad, j/k the next/previous row, n a note on the row. Pure: a key press in, an action out.
 */

export type CompareKeyAction =
  | { kind: 'vote'; winner: string }
  | { kind: 'move'; delta: 1 | -1 }
  | { kind: 'note' }

export interface KeyPress {
  key: string
  ctrlKey?: boolean
  metaKey?: boolean
  altKey?: boolean
}

/** The action of a key press, or null (a key of its own, or one with a modifier: the browser's shortcuts stay). */
export function compareKeyAction(e: KeyPress, models: readonly string[]): CompareKeyAction | null {
  if (e.ctrlKey || e.metaKey || e.altKey) return null
  const key = e.key.length === 1 ? e.key.toLowerCase() : e.key
  if (/^[1-9]$/.test(key)) {
    const model = models[Number(key) - 1]
    return model === undefined ? null : { kind: 'vote', winner: model }
  }
  switch (key) {
    case 't':
      return { kind: 'vote', winner: 'tie' }
    case 'b':
      return { kind: 'vote', winner: 'both_bad' }
    case 'j':
      return { kind: 'move', delta: 1 }
    case 'k':
      return { kind: 'move', delta: -1 }
    case 'n':
      return { kind: 'note' }
    default:
      return null
  }
}

/** How a winner reads: the model, "tie" or "both bad". */
export const winnerLabel = (winner: string): string => (winner === 'tie' ? 'tie' : winner === 'both_bad' ? 'both bad' : winner)
