import { expect } from 'vitest'
import type { FakeEngineEnv } from '../helpers/fake-engine'
import { processGroup } from '../helpers/fake-engine'
import { prng } from '../helpers/prng'

/** True for the long runs (CHAOS_LONG=1): bigger jobs, more kills. */
export const CHAOS_LONG = process.env.CHAOS_LONG === '1'

/**
 * The seed of a chaos run: CHAOS_SEED when given (to replay a failure), else a fresh one, so that every run
 * explores other moments. Tests put it in their name, so a failure always says how to replay it.
 */
export function chaosSeed(): { seed: number; random: () => number } {
  const given = process.env.CHAOS_SEED
  const seed = given !== undefined && given.trim() !== '' ? Number(given) >>> 0 : (Date.now() ^ (process.pid << 16)) >>> 0
  return { seed, random: prng(seed) }
}

/**
 * `count` thresholds in [from, to), one drawn uniformly inside each of `count` equal slots: sorted, distinct,
 * and spread over the range, so the kills land at different stages of the job.
 */
export function spreadThresholds(random: () => number, count: number, from: number, to: number): number[] {
  const slot = (to - from) / count
  return Array.from({ length: count }, (_, i) => Math.floor(from + slot * i + random() * slot))
}

/** SIGKILL to every process left in the groups of the fake engines a test launched (never anything else). */
export function killFakeEngines(fakes: FakeEngineEnv[]): void {
  for (const fake of fakes) {
    for (const l of fake.launches()) {
      for (const pid of processGroup(l.pid)) {
        try {
          process.kill(pid, 'SIGKILL')
        } catch {
          // ended meanwhile
        }
      }
    }
  }
}

interface OutputLine {
  custom_id: string
  error: unknown
  response: { status_code: number; body: { choices: { message: { content: string } }[] } }
}

/**
 * The batch output as the user reads it: every custom_id of `jsonl(n, prefix)` exactly once, none missing,
 * each a 200 whose answer is its own (the fake echoes the prompt `Say <custom_id>`).
 */
export function expectEveryAnswerOnceAndOwn(text: string, n: number, prefix: string, context: string): void {
  const lines = text
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as OutputLine)
  const counts = new Map<string, number>()
  for (const l of lines) counts.set(l.custom_id, (counts.get(l.custom_id) ?? 0) + 1)
  const duplicates = [...counts].filter(([, c]) => c > 1).map(([id]) => id)
  const submitted = new Set(Array.from({ length: n }, (_, i) => `${prefix}-${i + 1}`))
  const missing = [...submitted].filter((id) => !counts.has(id))
  const extra = [...counts.keys()].filter((id) => !submitted.has(id))
  expect(duplicates.slice(0, 20), `${context}: custom_ids written more than once (${duplicates.length})`).toEqual([])
  expect(missing.slice(0, 20), `${context}: custom_ids missing from the output (${missing.length})`).toEqual([])
  expect(extra.slice(0, 20), `${context}: custom_ids that were never submitted`).toEqual([])
  expect(lines, context).toHaveLength(n)
  const wrong = lines.filter((l) => l.error !== null || l.response?.status_code !== 200 || l.response.body.choices[0]?.message.content !== `echo: Say ${l.custom_id}`)
  expect(wrong.slice(0, 5), `${context}: lines that are not a 200 with their own answer (${wrong.length})`).toEqual([])
}
