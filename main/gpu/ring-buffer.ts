/** A fixed-capacity FIFO: pushing onto a full buffer drops the oldest item, so memory stays bounded. */
export class RingBuffer<T> {
  private readonly items: (T | undefined)[]
  private head = 0 // index of the oldest item
  private count = 0

  constructor(readonly capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError(`ring buffer capacity must be a positive integer, got ${capacity}`)
    this.items = new Array<T | undefined>(capacity).fill(undefined)
  }

  get length(): number {
    return this.count
  }

  push(item: T): void {
    if (this.count < this.capacity) {
      this.items[(this.head + this.count) % this.capacity] = item
      this.count++
    } else {
      this.items[this.head] = item
      this.head = (this.head + 1) % this.capacity
    }
  }

  /** The newest item, if any. */
  last(): T | undefined {
    return this.count === 0 ? undefined : this.items[(this.head + this.count - 1) % this.capacity]
  }

  /** Oldest first. */
  toArray(): T[] {
    const out: T[] = []
    for (let i = 0; i < this.count; i++) out.push(this.items[(this.head + i) % this.capacity] as T)
    return out
  }

  clear(): void {
    this.items.fill(undefined)
    this.head = 0
    this.count = 0
  }
}
