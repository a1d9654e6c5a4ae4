/**
 * Keeps the GPU under a power cap (VBS_GPU_POWER_LIMIT_W) by the number of batch requests in flight: each sample
 * above the cap narrows the window by a quarter, each sample below 90 % of the cap widens it by a quarter (at
 * least one), and between the two it holds, so it does not flap around the cap. Pure: no timers, no I/O; fed
 * each GPU sample, asked for the window before every batch request.
 */
export class PowerGovernor {
  private limit: number | null = null
  private max = 1
  private lastDrawW: number | null = null

  /** The cap in watts, read live (0 = none); the settings API may change it. */
  constructor(private readonly capW: () => number) {}

  /** A job starts with this concurrency: the window is kept (narrowed) if the GPU is still over the cap. */
  setMax(max: number): void {
    this.max = Math.max(1, max)
    if (this.limit !== null) this.limit = Math.min(this.limit, this.max)
  }

  /** Feeds a sample's power draw; true when the window changed. */
  update(drawW: number | null): boolean {
    if (drawW === null || !Number.isFinite(drawW)) return false
    this.lastDrawW = drawW
    const cap = this.capW()
    const before = this.window
    if (cap <= 0) {
      this.limit = null
      return before !== this.window
    }
    const current = this.window
    if (drawW > cap) this.limit = Math.max(1, Math.floor(current * 0.75))
    else if (drawW < cap * 0.9) {
      const wider = Math.max(current + 1, Math.ceil(current * 1.25))
      this.limit = wider >= this.max ? null : wider
    }
    return before !== this.window
  }

  /** Requests the running job may have in flight now. */
  get window(): number {
    return this.capW() > 0 && this.limit !== null ? Math.min(this.limit, this.max) : this.max
  }

  get maxWindow(): number {
    return this.max
  }

  get drawW(): number | null {
    return this.lastDrawW
  }

  get cap(): number | null {
    const cap = this.capW()
    return cap > 0 ? cap : null
  }
}
