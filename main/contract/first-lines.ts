/**
 * The line on which each custom_id was first used, for the duplicate check of the batch-line rules. A Map of
 * 200,000 strings took a seventh of a validation: its lookups miss the cache and its entries keep the garbage
 * collector busy. This keeps the ids' characters in flat typed arrays, which the collector never looks into,
 * and finds them by a hash with open addressing.
 */
export class FirstLines {
  /** Per slot: 1 + the index of the id in it, or 0 when empty. Never more than half full. */
  private slots = new Int32Array(1 << 12)
  /** Per id, in the order taken: its hash, its line, where its characters start in `chars`. */
  private hashes = new Int32Array(1 << 11)
  private lines = new Int32Array(1 << 11)
  private starts = new Int32Array((1 << 11) + 1)
  private chars = new Uint16Array(1 << 14)
  private count = 0

  get size(): number {
    return this.count
  }

  /** The line stored for `id`, or undefined. */
  get(id: string): number | undefined {
    const k = this.find(id, hash(id))
    return k === -1 ? undefined : this.lines[k]
  }

  /** Stores `id`'s line (replacing it when `id` is there already). */
  set(id: string, line: number): void {
    const h = hash(id)
    const found = this.find(id, h)
    if (found !== -1) {
      this.lines[found] = line
      return
    }
    if ((this.count + 1) * 2 > this.slots.length) this.growSlots()
    if (this.count + 1 >= this.hashes.length) this.growEntries()
    const k = this.count
    const from = this.starts[k]
    if (from + id.length > this.chars.length) this.growChars(from + id.length)
    for (let i = 0; i < id.length; i++) this.chars[from + i] = id.charCodeAt(i)
    this.starts[k + 1] = from + id.length
    this.hashes[k] = h
    this.lines[k] = line
    this.count += 1
    this.place(h, k)
  }

  /** The index of `id`, or -1. */
  private find(id: string, h: number): number {
    const mask = this.slots.length - 1
    for (let s = h & mask; ; s = (s + 1) & mask) {
      const slot = this.slots[s]
      if (slot === 0) return -1
      const k = slot - 1
      if (this.hashes[k] === h && this.sameChars(k, id)) return k
    }
  }

  private sameChars(k: number, id: string): boolean {
    const from = this.starts[k]
    if (this.starts[k + 1] - from !== id.length) return false
    for (let i = 0; i < id.length; i++) if (this.chars[from + i] !== id.charCodeAt(i)) return false
    return true
  }

  private place(h: number, k: number): void {
    const mask = this.slots.length - 1
    let s = h & mask
    while (this.slots[s] !== 0) s = (s + 1) & mask
    this.slots[s] = k + 1
  }

  private growSlots(): void {
    this.slots = new Int32Array(this.slots.length * 2)
    for (let k = 0; k < this.count; k++) this.place(this.hashes[k], k)
  }

  private growEntries(): void {
    const n = this.hashes.length * 2
    this.hashes = grown(this.hashes, n)
    this.lines = grown(this.lines, n)
    this.starts = grown(this.starts, n + 1)
  }

  private growChars(needed: number): void {
    const chars = new Uint16Array(Math.max(needed, this.chars.length * 2))
    chars.set(this.chars)
    this.chars = chars
  }
}

function grown(a: Int32Array<ArrayBuffer>, n: number): Int32Array<ArrayBuffer> {
  const b = new Int32Array(n)
  b.set(a)
  return b
}

/** FNV-1a over the UTF-16 code units. */
function hash(s: string): number {
  let h = 0x811c9dc5 | 0
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193)
  return h
}
