/**
 * Finds OpenAI `stop` strings in generated text as it streams. Text that could be the start of a stop string
 * is held back until the next piece decides it, so a streamed response never shows part of a stop string and
 * equals the non-streamed one. The stop string itself is not part of the output (as OpenAI and vLLM do).
 */
export interface StopStep {
  /** Text safe to send now. */
  text: string
  /** A stop string was found; `text` ends just before it. */
  stopped: boolean
}

export class StopMatcher {
  private readonly stops: readonly string[]
  private held = ''

  constructor(stops: readonly string[]) {
    this.stops = stops.filter((s) => s.length > 0)
  }

  get active(): boolean {
    return this.stops.length > 0
  }

  push(piece: string): StopStep {
    if (this.stops.length === 0) return { text: piece, stopped: false }
    const buffer = this.held + piece
    let cut = -1
    for (const stop of this.stops) {
      const at = buffer.indexOf(stop)
      if (at !== -1 && (cut === -1 || at < cut)) cut = at
    }
    if (cut !== -1) {
      this.held = ''
      return { text: buffer.slice(0, cut), stopped: true }
    }
    const keep = this.partialSuffixLength(buffer)
    this.held = buffer.slice(buffer.length - keep)
    return { text: buffer.slice(0, buffer.length - keep), stopped: false }
  }

  /** What is still held back once generation ends without a stop. */
  flush(): string {
    const rest = this.held
    this.held = ''
    return rest
  }

  /** Length of the longest suffix of `buffer` that is a proper prefix of some stop string. */
  private partialSuffixLength(buffer: string): number {
    let best = 0
    for (const stop of this.stops) {
      for (let n = Math.min(stop.length - 1, buffer.length); n > best; n--) {
        if (buffer.endsWith(stop.slice(0, n))) {
          best = n
          break
        }
      }
    }
    return best
  }
}
