import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { prng } from './prng'

/**
 * Writes a tiny llama-architecture GGUF (v3, F32, seeded random weights) that llama.cpp loads in tens of
 * milliseconds. The text it generates is gibberish, but tokenization, sampling, batching, streaming and token
 * counts are real, which is what the engine's tests need. See ../shared/reference/llama-cpp.md beside the project.
 */

export interface TinyGgufOptions {
  /** Seeds the weights: two seeds give two different models (for a swap between two files). Default 1. */
  seed?: number
  /** `general.name`. Default 'tiny-llama'. */
  name?: string
  /** E, the hidden size. Default 64. */
  embeddingLength?: number
  /** Transformer blocks. Default 2. */
  blockCount?: number
  /** Attention heads. Default 4. */
  headCount?: number
  /** KV heads (grouped-query attention). Default 2. */
  headCountKv?: number
  /** F, the feed-forward size. Default 128. */
  feedForwardLength?: number
  /** `llama.context_length`, the trained context. Default 4096. */
  contextLength?: number
  /** Target vocabulary size; words are added (with all their `▁` prefixes) until it is reached. Default 512. */
  vocabSize?: number
  /** `tokenizer.chat_template`; null leaves it out. Default the standard ChatML template. */
  chatTemplate?: string | null
}

export interface TinyGguf {
  file: string
  vocabSize: number
  embeddingLength: number
  contextLength: number
  /** The vocabulary in token id order. */
  tokens: readonly string[]
  /** Bytes written. */
  size: number
}

/** The standard ChatML Jinja template (as Qwen and many fine-tunes ship it). */
export const CHATML_TEMPLATE =
  "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}" +
  "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"

export const CONTROL_TOKENS = ['<unk>', '<s>', '</s>', '<|im_start|>', '<|im_end|>'] as const
const UNK_ID = 0
const BOS_ID = 1
const EOS_ID = 2
const EOT_ID = 4

/** Common English words; each enters the vocabulary with its `▁` prefixes so SentencePiece merges reach it. */
export const TINY_GGUF_WORDS: readonly string[] = [
  'hello', 'world', 'user', 'system', 'assistant', 'the', 'of', 'and', 'to', 'in', 'is', 'it', 'you', 'that', 'he',
  'was', 'for', 'on', 'are', 'with', 'as', 'his', 'they', 'be', 'at', 'one', 'have', 'this', 'from', 'or', 'had',
  'by', 'hot', 'word', 'but', 'what', 'some', 'we', 'can', 'out', 'other', 'were', 'all', 'there', 'when', 'up',
  'use', 'your', 'how', 'said', 'an', 'each', 'she', 'which', 'do', 'their', 'time', 'if', 'will', 'way', 'about',
  'many', 'then', 'them', 'write', 'would', 'like', 'so', 'these', 'her', 'long', 'make', 'thing', 'see', 'him',
  'two', 'has', 'look', 'more', 'day', 'could', 'go', 'come', 'did', 'number', 'sound', 'no', 'most', 'people', 'my',
  'over', 'know', 'water', 'than', 'call', 'first', 'who', 'may', 'down', 'side', 'been', 'now', 'find', 'model',
  'yes', 'good', 'name', 'story', 'short', 'tell', 'me', 'cat', 'dog', 'sun', 'red', 'blue', 'green',
]

// GGUF metadata value types.
const T_UINT32 = 4
const T_INT32 = 5
const T_FLOAT32 = 6
const T_BOOL = 7
const T_STRING = 8
const T_ARRAY = 9
const GGML_TYPE_F32 = 0
const ALIGNMENT = 32

// SentencePiece token types.
const TOKEN_NORMAL = 1
const TOKEN_UNKNOWN = 2
const TOKEN_CONTROL = 3
const TOKEN_BYTE = 6

interface Vocab {
  tokens: string[]
  scores: number[]
  types: number[]
}

function buildVocab(target: number): Vocab {
  const tokens: string[] = []
  const types: number[] = []
  const seen = new Set<string>()
  const add = (t: string, type: number): void => {
    if (seen.has(t)) return
    seen.add(t)
    tokens.push(t)
    types.push(type)
  }
  CONTROL_TOKENS.forEach((t, i) => add(t, i === UNK_ID ? TOKEN_UNKNOWN : TOKEN_CONTROL))
  for (let b = 0; b < 256; b++) add(`<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`, TOKEN_BYTE)
  add('▁', TOKEN_NORMAL)
  const chars = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.,!?\'":;-()'
  for (const c of chars) add(c, TOKEN_NORMAL)
  for (const c of 'abcdefghijklmnopqrstuvwxyz') add(`▁${c}`, TOKEN_NORMAL)
  for (const word of TINY_GGUF_WORDS) {
    const piece = `▁${word}`
    const prefixes = [...piece].map((_, i, all) => all.slice(0, i + 1).join('')).slice(1).filter((p) => !seen.has(p))
    if (tokens.length + prefixes.length > target) break
    for (const p of prefixes) add(p, TOKEN_NORMAL)
  }
  // Rank order as in a real SentencePiece vocabulary: later pieces score lower, longer merges still win
  // because the shorter pieces they are built from come first.
  const scores = tokens.map((_, i) => (types[i] === TOKEN_NORMAL ? -i : 0))
  return { tokens, scores, types }
}


class Writer {
  private chunks: Buffer[] = []
  length = 0
  push(b: Buffer): void {
    this.chunks.push(b)
    this.length += b.length
  }
  u32(v: number): void {
    const b = Buffer.alloc(4)
    b.writeUInt32LE(v)
    this.push(b)
  }
  i32(v: number): void {
    const b = Buffer.alloc(4)
    b.writeInt32LE(v)
    this.push(b)
  }
  u64(v: number): void {
    const b = Buffer.alloc(8)
    b.writeBigUInt64LE(BigInt(v))
    this.push(b)
  }
  f32(v: number): void {
    const b = Buffer.alloc(4)
    b.writeFloatLE(v)
    this.push(b)
  }
  str(s: string): void {
    const b = Buffer.from(s, 'utf8')
    this.u64(b.length)
    this.push(b)
  }
  pad(): void {
    const rem = this.length % ALIGNMENT
    if (rem !== 0) this.push(Buffer.alloc(ALIGNMENT - rem))
  }
  toBuffer(): Buffer {
    return Buffer.concat(this.chunks, this.length)
  }
}

type MetaValue =
  | { t: 'str'; v: string }
  | { t: 'u32'; v: number }
  | { t: 'i32'; v: number }
  | { t: 'f32'; v: number }
  | { t: 'bool'; v: boolean }
  | { t: 'strs'; v: string[] }
  | { t: 'f32s'; v: number[] }
  | { t: 'i32s'; v: number[] }

function writeMeta(w: Writer, key: string, m: MetaValue): void {
  w.str(key)
  switch (m.t) {
    case 'str':
      w.u32(T_STRING)
      w.str(m.v)
      break
    case 'u32':
      w.u32(T_UINT32)
      w.u32(m.v)
      break
    case 'i32':
      w.u32(T_INT32)
      w.i32(m.v)
      break
    case 'f32':
      w.u32(T_FLOAT32)
      w.f32(m.v)
      break
    case 'bool':
      w.u32(T_BOOL)
      w.push(Buffer.from([m.v ? 1 : 0]))
      break
    case 'strs':
      writeArray(w, T_STRING, m.v, (s) => w.str(s))
      break
    case 'f32s':
      writeArray(w, T_FLOAT32, m.v, (f) => w.f32(f))
      break
    case 'i32s':
      writeArray(w, T_INT32, m.v, (i) => w.i32(i))
      break
  }
}

/** A GGUF array value: its type tag, the element type, the count, then each element. */
function writeArray<T>(w: Writer, elementType: number, values: readonly T[], write: (v: T) => void): void {
  w.u32(T_ARRAY)
  w.u32(elementType)
  w.u64(values.length)
  for (const v of values) write(v)
}

interface Tensor {
  name: string
  /** ne[0] first: the row length (input size of y = W·x). */
  dims: number[]
  data: Float32Array
}

/** Writes the model and returns what a test needs to know about it. Synchronous: it takes a few ms. */
export function writeTinyGguf(file: string, opts: TinyGgufOptions = {}): TinyGguf {
  const E = opts.embeddingLength ?? 64
  const L = opts.blockCount ?? 2
  const H = opts.headCount ?? 4
  const HKV = opts.headCountKv ?? 2
  const F = opts.feedForwardLength ?? 128
  const ctx = opts.contextLength ?? 4096
  if (E % H !== 0) throw new Error(`embeddingLength ${E} is not a multiple of headCount ${H}`)
  if (H % HKV !== 0) throw new Error(`headCount ${H} is not a multiple of headCountKv ${HKV}`)
  const headDim = E / H
  const vocab = buildVocab(opts.vocabSize ?? 512)
  const V = vocab.tokens.length
  const rand = prng(opts.seed ?? 1)

  const uniform = (n: number, scale: number): Float32Array => {
    const a = new Float32Array(n)
    for (let i = 0; i < n; i++) a[i] = (rand() * 2 - 1) * scale
    return a
  }
  const ones = (n: number): Float32Array => new Float32Array(n).fill(1)
  const mat = (name: string, inDim: number, outDim: number, scale = 1 / Math.sqrt(inDim)): Tensor => ({
    name,
    dims: [inDim, outDim],
    data: uniform(inDim * outDim, scale * Math.sqrt(3)),
  })

  const tensors: Tensor[] = [mat('token_embd.weight', E, V, 1)]
  for (let i = 0; i < L; i++) {
    tensors.push(
      { name: `blk.${i}.attn_norm.weight`, dims: [E], data: ones(E) },
      mat(`blk.${i}.attn_q.weight`, E, E),
      mat(`blk.${i}.attn_k.weight`, E, headDim * HKV),
      mat(`blk.${i}.attn_v.weight`, E, headDim * HKV),
      mat(`blk.${i}.attn_output.weight`, E, E),
      { name: `blk.${i}.ffn_norm.weight`, dims: [E], data: ones(E) },
      mat(`blk.${i}.ffn_gate.weight`, E, F),
      mat(`blk.${i}.ffn_up.weight`, E, F),
      mat(`blk.${i}.ffn_down.weight`, F, E),
    )
  }
  // Logits with a spread of about ±4σ keep zeroed rows (logit 0) far below the best candidates.
  const output = mat('output.weight', E, V, 0.5)
  for (let t = 0; t < V; t++) {
    // Control tokens (so greedy decoding does not stop at once and max_tokens is reached) and byte tokens
    // outside printable ASCII (so the gibberish stays valid UTF-8 text) get a zero row: logit 0.
    const type = vocab.types[t]
    const byte = type === TOKEN_BYTE ? t - CONTROL_TOKENS.length : -1
    const silent = type === TOKEN_CONTROL || type === TOKEN_UNKNOWN || (type === TOKEN_BYTE && !(byte === 0x0a || (byte >= 0x20 && byte < 0x7f)))
    if (silent) output.data.fill(0, t * E, (t + 1) * E)
  }
  tensors.push({ name: 'output_norm.weight', dims: [E], data: ones(E) }, output)

  const meta: [string, MetaValue][] = [
    ['general.architecture', { t: 'str', v: 'llama' }],
    ['general.name', { t: 'str', v: opts.name ?? 'tiny-llama' }],
    ['general.alignment', { t: 'u32', v: ALIGNMENT }],
    ['general.file_type', { t: 'u32', v: 0 }],
    ['llama.context_length', { t: 'u32', v: ctx }],
    ['llama.embedding_length', { t: 'u32', v: E }],
    ['llama.block_count', { t: 'u32', v: L }],
    ['llama.feed_forward_length', { t: 'u32', v: F }],
    ['llama.attention.head_count', { t: 'u32', v: H }],
    ['llama.attention.head_count_kv', { t: 'u32', v: HKV }],
    ['llama.rope.dimension_count', { t: 'u32', v: headDim }],
    ['llama.rope.freq_base', { t: 'f32', v: 10000 }],
    ['llama.attention.layer_norm_rms_epsilon', { t: 'f32', v: 1e-5 }],
    ['llama.vocab_size', { t: 'u32', v: V }],
    ['tokenizer.ggml.model', { t: 'str', v: 'llama' }],
    ['tokenizer.ggml.tokens', { t: 'strs', v: vocab.tokens }],
    ['tokenizer.ggml.scores', { t: 'f32s', v: vocab.scores }],
    ['tokenizer.ggml.token_type', { t: 'i32s', v: vocab.types }],
    ['tokenizer.ggml.bos_token_id', { t: 'u32', v: BOS_ID }],
    ['tokenizer.ggml.eos_token_id', { t: 'u32', v: EOS_ID }],
    ['tokenizer.ggml.unknown_token_id', { t: 'u32', v: UNK_ID }],
    ['tokenizer.ggml.eot_token_id', { t: 'u32', v: EOT_ID }],
    ['tokenizer.ggml.add_bos_token', { t: 'bool', v: true }],
    ['tokenizer.ggml.add_eos_token', { t: 'bool', v: false }],
    ['tokenizer.ggml.add_space_prefix', { t: 'bool', v: true }],
  ]
  const template = opts.chatTemplate === undefined ? CHATML_TEMPLATE : opts.chatTemplate
  if (template !== null) meta.push(['tokenizer.chat_template', { t: 'str', v: template }])

  const w = new Writer()
  w.push(Buffer.from('GGUF', 'ascii'))
  w.u32(3)
  w.u64(tensors.length)
  w.u64(meta.length)
  for (const [k, v] of meta) writeMeta(w, k, v)
  let offset = 0
  for (const t of tensors) {
    w.str(t.name)
    w.u32(t.dims.length)
    for (const d of t.dims) w.u64(d)
    w.u32(GGML_TYPE_F32)
    w.u64(offset)
    offset += Math.ceil(t.data.byteLength / ALIGNMENT) * ALIGNMENT
  }
  w.pad()
  for (const t of tensors) {
    w.push(Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength))
    w.pad()
  }
  const buf = w.toBuffer()
  fs.mkdirSync(path.dirname(file), { recursive: true })
  fs.writeFileSync(file, buf)
  return { file, vocabSize: V, embeddingLength: E, contextLength: ctx, tokens: vocab.tokens, size: buf.length }
}

export interface TinyGgufDir extends TinyGguf {
  dir: string
  /** Removes the directory and everything in it. */
  cleanup: () => void
}

/** A fresh temp dir holding one tiny model (`<dir>/<fileName>`). */
export function tinyGgufInTempDir(opts: TinyGgufOptions & { fileName?: string } = {}): TinyGgufDir {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tiny-gguf-'))
  const info = writeTinyGguf(path.join(dir, opts.fileName ?? 'tiny.gguf'), opts)
  return { ...info, dir, cleanup: () => fs.rmSync(dir, { recursive: true, force: true }) }
}
