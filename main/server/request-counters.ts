/** Counts of real-time requests by endpoint and status, for /metrics. */
export class RequestCounters {
  private readonly totals = new Map<string, number>()

  record(path: string, status: number): void {
    const key = `${path} ${status}`
    this.totals.set(key, (this.totals.get(key) ?? 0) + 1)
  }

  /** [endpoint, status code, count] */
  counts(): [string, number, number][] {
    return [...this.totals].map(([k, n]) => {
      const [path, code] = k.split(' ')
      return [path, Number(code), n]
    })
  }
}
