import { create } from 'zustand'
import * as api from '../api/endpoints'
import type { GpuInfo, GpuSample, GpuStatus, ThermalDecision } from '../types'

/** The chart shows this much history, as the service keeps. */
export const HISTORY_MS = 10 * 60_000

export interface ThermalState {
  paused: boolean
  /** e.g. "paused: GPU 86 °C (pauses at 83 °C, resumes at 75 °C)"; null while not paused. */
  reason: string | null
  pauseC: number | null
  resumeC: number | null
}

interface GpuState {
  status: GpuStatus | null
  info: GpuInfo | null
  current: GpuSample | null
  history: GpuSample[]
  thermal: ThermalState
  loadError: string | null
  refresh: () => Promise<void>
  addSample: (sample: GpuSample) => void
  setStatus: (status: GpuStatus) => void
  setThermal: (decision: ThermalDecision) => void
  /** Thresholds from /health (the fallback while the event stream is down). */
  setThresholds: (pauseC: number, resumeC: number) => void
}

const trim = (history: GpuSample[], newest: number): GpuSample[] => {
  const from = newest - HISTORY_MS
  const first = history.findIndex((s) => s.at >= from)
  return first <= 0 ? history : history.slice(first)
}

/** GPU telemetry: discovery, the live sample, 10 minutes of history and the thermal guard. */
export const useGpuStore = create<GpuState>()((set) => ({
  status: null,
  info: null,
  current: null,
  history: [],
  thermal: { paused: false, reason: null, pauseC: null, resumeC: null },
  loadError: null,
  refresh: async () => {
    try {
      const view = await api.getGpu()
      const history = [...view.history].sort((a, b) => a.at - b.at)
      set({
        status: view.status,
        info: view.info,
        current: view.current,
        history: trim(history, history.at(-1)?.at ?? Date.now()),
        thermal: { paused: view.thermal.paused, reason: view.thermal.reason, pauseC: view.thermal.pause_c, resumeC: view.thermal.resume_c },
        loadError: null,
      })
    } catch (err) {
      set({ loadError: err instanceof Error ? err.message : String(err) })
    }
  },
  addSample: (sample) =>
    set((s) => {
      const last = s.history.at(-1)
      if (last && sample.at <= last.at) return { current: sample }
      return { current: sample, history: trim([...s.history, sample], sample.at) }
    }),
  setStatus: (status) => set({ status }),
  setThermal: (d) => set((s) => ({ thermal: { ...s.thermal, paused: d.paused, reason: d.reason } })),
  setThresholds: (pauseC, resumeC) =>
    set((s) => (s.thermal.pauseC === pauseC && s.thermal.resumeC === resumeC ? s : { thermal: { ...s.thermal, pauseC, resumeC } })),
}))
