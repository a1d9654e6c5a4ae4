#!/usr/bin/env node
// Draws the app's icons in pure Node (zlib only) and writes them where the app and electron-builder read them:
//
//   resources/tray/<state>.png, <state>@2x.png  32x32 and 64x64 tray icons, one per tray state
//   resources/icon.png                         256x256 window icon (read at run time, shipped in the app)
//   build/icon.png                             512x512 application icon
//   build/icons/<n>x<n>.png                    the Linux icon set (electron-builder names them by size)
//   build/icon.ico                             Windows: PNG-compressed entries 16..256
//   build/icon.icns                            macOS: PNG entries ic07..ic14, ic10
//
// The output is committed; run `node build/make-icons.mjs` again after changing a drawing.
//
// A tray icon is a GPU chip (a body with pins on all four sides) in the state's colour with a white mark that
// tells the states apart without colour too: idle a die outline, loading three dots, busy a play triangle,
// hot a thermometer, error a cross. Shapes are signed distance functions sampled on a sub-pixel grid, so the
// edges are anti-aliased at every size.
import fs from 'node:fs'
import path from 'node:path'
import zlib from 'node:zlib'
import { fileURLToPath } from 'node:url'

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')

// ---------------------------------------------------------------------------------------------------------------
// PNG

const CRC_TABLE = (() => {
  const t = new Uint32Array(256)
  for (let n = 0; n < 256; n++) {
    let c = n
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1
    t[n] = c >>> 0
  }
  return t
})()

function crc32(buf) {
  let c = 0xffffffff
  for (const b of buf) c = CRC_TABLE[(c ^ b) & 0xff] ^ (c >>> 8)
  return (c ^ 0xffffffff) >>> 0
}

function chunk(type, data) {
  const head = Buffer.alloc(8)
  head.writeUInt32BE(data.length, 0)
  head.write(type, 4, 'latin1')
  const crc = Buffer.alloc(4)
  crc.writeUInt32BE(crc32(Buffer.concat([head.subarray(4), data])), 0)
  return Buffer.concat([head, data, crc])
}

/** RGBA, 8 bits a channel, not premultiplied; filter type 0 on every row. */
function encodePng(width, height, rgba) {
  const ihdr = Buffer.alloc(13)
  ihdr.writeUInt32BE(width, 0)
  ihdr.writeUInt32BE(height, 4)
  ihdr[8] = 8 // bit depth
  ihdr[9] = 6 // colour type: RGBA
  ihdr[10] = 0 // deflate
  ihdr[11] = 0 // adaptive filtering
  ihdr[12] = 0 // no interlace
  const raw = Buffer.alloc((width * 4 + 1) * height)
  for (let y = 0; y < height; y++) {
    raw[y * (width * 4 + 1)] = 0
    rgba.copy(raw, y * (width * 4 + 1) + 1, y * width * 4, (y + 1) * width * 4)
  }
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', zlib.deflateSync(raw, { level: 9 })),
    chunk('IEND', Buffer.alloc(0)),
  ])
}

// ---------------------------------------------------------------------------------------------------------------
// Shapes: signed distance in unit coordinates (the canvas is [0,1] x [0,1], y down); negative inside.

const roundRect = (cx, cy, hw, hh, r) => (x, y) => {
  const qx = Math.abs(x - cx) - hw + r
  const qy = Math.abs(y - cy) - hh + r
  return Math.hypot(Math.max(qx, 0), Math.max(qy, 0)) + Math.min(Math.max(qx, qy), 0) - r
}
const circle = (cx, cy, r) => (x, y) => Math.hypot(x - cx, y - cy) - r
/** A line segment with round caps (a capsule) of half-width r. */
const segment = (ax, ay, bx, by, r) => (x, y) => {
  const px = x - ax
  const py = y - ay
  const dx = bx - ax
  const dy = by - ay
  const h = Math.max(0, Math.min(1, (px * dx + py * dy) / (dx * dx + dy * dy)))
  return Math.hypot(px - dx * h, py - dy * h) - r
}
/** A convex polygon, counter-clockwise or clockwise; exact enough at the sizes drawn here. */
const polygon = (points) => (x, y) => {
  let inside = true
  let d = Infinity
  for (let i = 0; i < points.length; i++) {
    const [ax, ay] = points[i]
    const [bx, by] = points[(i + 1) % points.length]
    d = Math.min(d, segment(ax, ay, bx, by, 0)(x, y))
    const cross = (bx - ax) * (y - ay) - (by - ay) * (x - ax)
    if (cross < 0) inside = false
  }
  return inside ? -d : d
}
const union = (...shapes) => (x, y) => Math.min(...shapes.map((s) => s(x, y)))
const outline = (shape, halfWidth) => (x, y) => Math.abs(shape(x, y)) - halfWidth

const hex = (h, a = 1) => [parseInt(h.slice(1, 3), 16), parseInt(h.slice(3, 5), 16), parseInt(h.slice(5, 7), 16), a]

/**
 * Renders layers ({ shape, color: [r,g,b,a] }, bottom first) at `size` px, `ss` x `ss` samples a pixel,
 * composited "over" in linear-ish 8-bit space (good enough for flat icons).
 */
function render(size, layers, ss = 4) {
  const out = Buffer.alloc(size * size * 4)
  for (let py = 0; py < size; py++) {
    for (let px = 0; px < size; px++) {
      let r = 0
      let g = 0
      let b = 0
      let a = 0
      for (let sy = 0; sy < ss; sy++) {
        for (let sx = 0; sx < ss; sx++) {
          const x = (px + (sx + 0.5) / ss) / size
          const y = (py + (sy + 0.5) / ss) / size
          let cr = 0
          let cg = 0
          let cb = 0
          let ca = 0
          for (const { shape, color } of layers) {
            if (shape(x, y) > 0) continue
            const la = color[3]
            cr = color[0] * la + cr * (1 - la)
            cg = color[1] * la + cg * (1 - la)
            cb = color[2] * la + cb * (1 - la)
            ca = la + ca * (1 - la)
          }
          r += cr
          g += cg
          b += cb
          a += ca
        }
      }
      const n = ss * ss
      const i = (py * size + px) * 4
      const alpha = a / n
      // Un-premultiply: the samples were accumulated premultiplied by their coverage.
      out[i] = alpha > 0 ? Math.round(r / n / alpha) : 0
      out[i + 1] = alpha > 0 ? Math.round(g / n / alpha) : 0
      out[i + 2] = alpha > 0 ? Math.round(b / n / alpha) : 0
      out[i + 3] = Math.round(alpha * 255)
    }
  }
  return encodePng(size, size, out)
}

// ---------------------------------------------------------------------------------------------------------------
// The chip

/** Pins on all four sides of a chip body spanning [lo, hi] in both directions. */
function pins(lo, hi, count, halfWidth, reach) {
  const shapes = []
  for (let i = 0; i < count; i++) {
    const t = lo + ((hi - lo) * (i + 1)) / (count + 1)
    shapes.push(
      roundRect(t, lo - reach / 2, halfWidth, reach / 2, halfWidth * 0.4), // top
      roundRect(t, hi + reach / 2, halfWidth, reach / 2, halfWidth * 0.4), // bottom
      roundRect(lo - reach / 2, t, reach / 2, halfWidth, halfWidth * 0.4), // left
      roundRect(hi + reach / 2, t, reach / 2, halfWidth, halfWidth * 0.4), // right
    )
  }
  return union(...shapes)
}

const WHITE = hex('#ffffff')
const EDGE = hex('#1b1f23', 0.55)

// The tray chip: a body from 0.16 to 0.84, three pins a side reaching to the canvas edge.
const BODY_LO = 0.16
const BODY_HI = 0.84
const trayBody = roundRect(0.5, 0.5, (BODY_HI - BODY_LO) / 2, (BODY_HI - BODY_LO) / 2, 0.09)
const trayPins = pins(BODY_LO, BODY_HI, 3, 0.045, 0.14)

/** The white mark of each state, centred on the chip. */
const MARKS = {
  // A die outline: the chip at rest.
  idle: outline(roundRect(0.5, 0.5, 0.15, 0.15, 0.03), 0.035),
  // Three dots: something is on its way.
  loading: union(circle(0.33, 0.5, 0.065), circle(0.5, 0.5, 0.065), circle(0.67, 0.5, 0.065)),
  // A play triangle: a batch is running.
  busy: polygon([
    [0.4, 0.32],
    [0.69, 0.5],
    [0.4, 0.68],
  ]),
  // A thermometer: paused because the GPU is hot.
  hot: union(segment(0.5, 0.3, 0.5, 0.56, 0.06), circle(0.5, 0.63, 0.1)),
  // A cross: the engine failed.
  error: union(segment(0.37, 0.37, 0.63, 0.63, 0.055), segment(0.63, 0.37, 0.37, 0.63, 0.055)),
}

const TRAY_COLORS = {
  idle: '#8a9199',
  loading: '#2f7fe0',
  busy: '#2ea043',
  hot: '#f08c00',
  error: '#d73a3a',
}

function trayIcon(state, size) {
  const color = hex(TRAY_COLORS[state])
  // A thin dark rim keeps the glyph readable on light panels; the colour carries it on dark ones.
  const rim = 1.2 / size
  return render(size, [
    { shape: (x, y) => union(trayBody, trayPins)(x, y) - rim, color: EDGE },
    { shape: trayPins, color },
    { shape: trayBody, color },
    { shape: MARKS[state], color: WHITE },
  ])
}

// The application icon: a dark chip with silver pins and a green die holding three lines (a batch of requests).
function appIcon(size) {
  const lo = 0.2
  const hi = 0.8
  const body = roundRect(0.5, 0.5, (hi - lo) / 2, (hi - lo) / 2, 0.07)
  const die = roundRect(0.5, 0.5, 0.17, 0.17, 0.035)
  const lines = union(
    segment(0.4, 0.42, 0.6, 0.42, 0.025),
    segment(0.4, 0.5, 0.6, 0.5, 0.025),
    segment(0.4, 0.58, 0.54, 0.58, 0.025),
  )
  const ss = size >= 512 ? 2 : size >= 128 ? 3 : 4
  return render(
    size,
    [
      { shape: pins(lo, hi, 5, 0.022, 0.12), color: hex('#b8c2cc') },
      { shape: body, color: hex('#263238') },
      { shape: outline(body, 0.008), color: hex('#4f5b62') },
      { shape: die, color: hex('#2ea043') },
      { shape: lines, color: WHITE },
    ],
    ss,
  )
}

// ---------------------------------------------------------------------------------------------------------------
// Containers

/** ICO with PNG-compressed entries (Windows Vista and later read them; electron-builder accepts them). */
function encodeIco(entries) {
  const header = Buffer.alloc(6)
  header.writeUInt16LE(0, 0) // reserved
  header.writeUInt16LE(1, 2) // type: icon
  header.writeUInt16LE(entries.length, 4)
  const dir = Buffer.alloc(16 * entries.length)
  let offset = 6 + dir.length
  entries.forEach(({ size, png }, i) => {
    const o = i * 16
    dir[o] = size >= 256 ? 0 : size // 0 means 256
    dir[o + 1] = size >= 256 ? 0 : size
    dir[o + 2] = 0 // no palette
    dir[o + 3] = 0
    dir.writeUInt16LE(1, o + 4) // colour planes
    dir.writeUInt16LE(32, o + 6) // bits per pixel
    dir.writeUInt32LE(png.length, o + 8)
    dir.writeUInt32LE(offset, o + 12)
    offset += png.length
  })
  return Buffer.concat([header, dir, ...entries.map((e) => e.png)])
}

/** ICNS with PNG entries: each is a 4-byte type, a 4-byte big-endian length (header included), the data. */
function encodeIcns(entries) {
  const parts = entries.map(({ type, png }) => {
    const head = Buffer.alloc(8)
    head.write(type, 0, 'latin1')
    head.writeUInt32BE(png.length + 8, 4)
    return Buffer.concat([head, png])
  })
  const body = Buffer.concat(parts)
  const head = Buffer.alloc(8)
  head.write('icns', 0, 'latin1')
  head.writeUInt32BE(body.length + 8, 4)
  return Buffer.concat([head, body])
}

// ---------------------------------------------------------------------------------------------------------------

function write(rel, data) {
  const file = path.join(ROOT, rel)
  fs.mkdirSync(path.dirname(file), { recursive: true })
  fs.writeFileSync(file, data)
  console.log(`${rel} (${data.length} bytes)`)
}

function main() {
  for (const state of Object.keys(MARKS)) {
    write(`resources/tray/${state}.png`, trayIcon(state, 32))
    write(`resources/tray/${state}@2x.png`, trayIcon(state, 64))
  }

  const app = new Map()
  const appPng = (size) => {
    if (!app.has(size)) app.set(size, appIcon(size))
    return app.get(size)
  }
  write('resources/icon.png', appPng(256))
  write('build/icon.png', appPng(512))
  for (const size of [16, 32, 48, 64, 128, 256, 512]) write(`build/icons/${size}x${size}.png`, appPng(size))
  write('build/icon.ico', encodeIco([16, 24, 32, 48, 64, 128, 256].map((size) => ({ size, png: appPng(size) }))))
  write(
    'build/icon.icns',
    encodeIcns([
      { type: 'ic11', png: appPng(32) }, // 16x16@2x
      { type: 'ic12', png: appPng(64) }, // 32x32@2x
      { type: 'ic07', png: appPng(128) },
      { type: 'ic13', png: appPng(256) }, // 128x128@2x
      { type: 'ic08', png: appPng(256) },
      { type: 'ic14', png: appPng(512) }, // 256x256@2x
      { type: 'ic09', png: appPng(512) },
      { type: 'ic10', png: appPng(1024) }, // 512x512@2x
    ]),
  )
}

main()
