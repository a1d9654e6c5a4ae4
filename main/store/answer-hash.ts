import { createHash } from 'node:crypto'

/**
 * An answer as two models are compared on it: case, accents' forms, punctuation and symbols, and runs of
 * whitespace set aside ("Paris." and "paris" agree; "Paris" and "Lyon" do not).
 */
export function normalizeAnswer(text: string): string {
  return text.normalize('NFKC').toLowerCase().replace(/[\p{P}\p{S}]+/gu, ' ').replace(/\s+/g, ' ').trim()
}

/** A short digest of a text, so that equal answers can be found by SQL over narrow rows. */
export function textHash(text: string): string {
  return createHash('sha1').update(text).digest('base64url').slice(0, 16)
}

/** The exact and the normalised digest of an answer, or nulls when there is none. */
export function answerHashes(text: string | null): { exact: string | null; normalized: string | null } {
  if (text === null) return { exact: null, normalized: null }
  return { exact: textHash(text), normalized: textHash(normalizeAnswer(text)) }
}
