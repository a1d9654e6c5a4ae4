import { describe, expect, it } from 'vitest'
import { RingBuffer } from '../../main/gpu/ring-buffer'
import { parseSampleLine } from '../../main/gpu/telemetry'
import { gpuInfoFromReport, UNKNOWN_INFO } from '../../main/gpu/discovery'

describe('ring buffer', () => {
  it('keeps the newest `capacity` items, oldest first', () => {
    const ring = new RingBuffer<number>(3)
    expect(ring.toArray()).toEqual([])
    expect(ring.last()).toBeUndefined()
    for (let i = 1; i <= 7; i++) ring.push(i)
    expect(ring.toArray()).toEqual([5, 6, 7])
    expect(ring.length).toBe(3)
    expect(ring.last()).toBe(7)
    ring.clear()
    expect(ring.toArray()).toEqual([])
    ring.push(9)
    expect(ring.toArray()).toEqual([9])
    expect(() => new RingBuffer(0)).toThrow(RangeError)
  })
})

describe('nvidia-smi sample lines', () => {
  it('parses a csv,noheader,nounits line of GPU 0', () => {
    expect(parseSampleLine('0, 45, 600, 16376, 3, 21.50, 320.00, 30', 123)).toEqual({
      index: 0,
      sample: { at: 123, temperatureC: 45, memoryUsedMiB: 600, memoryTotalMiB: 16376, utilizationPct: 3, powerW: 21.5, powerLimitW: 320, fanPct: 30 },
    })
  })

  it('reads [N/A], [Not Supported] and the like as null', () => {
    expect(parseSampleLine('1, 71, 9000, 24576, 99, [N/A], [Not Supported], N/A', 5)).toEqual({
      index: 1,
      sample: { at: 5, temperatureC: 71, memoryUsedMiB: 9000, memoryTotalMiB: 24576, utilizationPct: 99, powerW: null, powerLimitW: null, fanPct: null },
    })
    expect(parseSampleLine('0, [Unknown Error], , 16376, 0, 1, 2, 3', 5)?.sample).toMatchObject({ temperatureC: null, memoryUsedMiB: null })
  })

  it('is not fooled by other lines', () => {
    expect(parseSampleLine("NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver.", 1)).toBeNull()
    expect(parseSampleLine('index, temperature.gpu, memory.used [MiB], memory.total [MiB], a, b, c, d', 1)).toBeNull()
    expect(parseSampleLine('0, 45, 600', 1)).toBeNull()
  })
})

describe('discovery report', () => {
  it('takes the NVIDIA controller, preferring what nvidia-smi said over lspci', () => {
    const info = gpuInfoFromReport({
      controllers: [
        { vendor: 'Intel Corporation', model: 'Raptor Lake-S GT1 [UHD Graphics 770]', vram: 256 },
        { vendor: 'NVIDIA Corporation', model: 'AD103 [GeForce RTX 4080]', name: 'NVIDIA GeForce RTX 4080', vram: 16384, memoryTotal: 16376, driverVersion: '550.54.14', busAddress: '01:00.0', pciBus: '00000000:01:00.0' },
      ],
      cpu: { manufacturer: 'Intel', brand: 'Core™ i9-13900K', cores: 32 },
      mem: { total: 68_719_476_736 },
    })
    expect(info).toEqual({
      name: 'NVIDIA GeForce RTX 4080',
      driverVersion: '550.54.14',
      vramTotalMiB: 16376,
      pciBusId: '00000000:01:00.0',
      cpu: { brand: 'Intel Core™ i9-13900K', cores: 32 },
      memoryTotalBytes: 68_719_476_736,
    })
  })

  it('falls back to lspci without a driver, and to nulls without a card', () => {
    expect(
      gpuInfoFromReport({ controllers: [{ vendor: 'NVIDIA Corporation', model: 'AD103 [GeForce RTX 4080]', vram: 16384, busAddress: '01:00.0' }], cpu: null, mem: null }),
    ).toEqual({ ...UNKNOWN_INFO, name: 'AD103 [GeForce RTX 4080]', vramTotalMiB: 16384, pciBusId: '01:00.0' })
    expect(gpuInfoFromReport({ controllers: [{ vendor: 'Intel Corporation', model: 'UHD 770' }], cpu: { brand: 'EPYC', manufacturer: 'AMD', cores: 2 } })).toEqual({
      ...UNKNOWN_INFO,
      cpu: { brand: 'AMD EPYC', cores: 2 },
    })
    expect(gpuInfoFromReport('nonsense')).toEqual(UNKNOWN_INFO)
  })
})
