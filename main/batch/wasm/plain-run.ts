/**
 * The plain run of a JSON string found 16 bytes a step (WebAssembly SIMD: ./plain-run.wat, assembled with wabt's
 * wat2wasm 1.0.32 into the bytes below). A validation reads its file into a buffer that lives in the module's
 * memory (lendReadBuffer), so request-scan.ts can step over the long strings of its lines (the prompts) there;
 * any other buffer, or a runtime without WebAssembly SIMD, takes the byte-by-byte loop as before.
 */

const WASM_BASE64 = 'AGFzbQEAAAABBwFgAn9/AX8DAgEABQQBAUFBBxICBm1lbW9yeQIABXBsYWluAAAKSgFIAQF7AkADQCAAQRBqIAFLDQEgAP0AAAAhAiACQSL9D/0jIAJB3AD9D/0j/VAgAkEg/Q/9Jv1Q/VMNASAAQRBqIQAMAAsLIAAL'

/** The module's memory (65 pages, fixed: it never grows, so views of it stay valid) holds this many read buffers. */
const REGIONS = 4
const REGION_BYTES = 1024 * 1024

interface PlainRun {
  memory: ArrayBuffer
  plain: (p: number, end: number) => number
}

function instantiate(): PlainRun | null {
  try {
    const instance = new WebAssembly.Instance(new WebAssembly.Module(Buffer.from(WASM_BASE64, 'base64')))
    const exports = instance.exports as { memory: WebAssembly.Memory; plain: (p: number, end: number) => number }
    return { memory: exports.memory.buffer, plain: exports.plain }
  } catch {
    return null // no WebAssembly SIMD here: every string takes the byte loop
  }
}

const wasm = instantiate()
const free: number[] = wasm ? Array.from({ length: REGIONS }, (_, i) => i) : []

/** A read buffer in the module's memory, lent to one reader until release(). */
export interface LentBuffer {
  buffer: Buffer
  release: () => void
}

/** One of the read buffers (1 MiB), or null when all are lent (or there is no WebAssembly): read into your own. */
export function lendReadBuffer(): LentBuffer | null {
  const region = free.pop()
  if (region === undefined || !wasm) return null
  let returned = false
  return {
    buffer: Buffer.from(wasm.memory, region * REGION_BYTES, REGION_BYTES),
    release: () => {
      if (returned) return
      returned = true
      free.push(region)
    },
  }
}

/**
 * From b[i], the first index before `end` whose 16-byte step may hold a quote, a backslash or a control character
 * (the caller goes on byte by byte from there): i itself when b does not lie in the module's memory.
 */
export function skipPlainRun(b: Buffer, i: number, end: number): number {
  if (!wasm || b.buffer !== wasm.memory) return i
  const base = b.byteOffset
  return wasm.plain(base + i, base + end) - base
}
