import fs from 'node:fs'
import type { Logger } from 'pino'
import type { EngineKind, ModelEntry } from '../config/models'
import { ServiceEvents } from '../events'
import type { EngineBackend, EngineCapabilities, EngineTarget } from './engine-backend'
import { EngineError, type EngineState, type EngineStatus, type WarmEngine } from './engine-types'
import { EngineSupervisor, type SupervisorOptions } from './supervisor'

export interface WarmPoolOptions {
  /** What every engine of the pool is started with; each gets its own port (when fixed), pidfile and events. */
  supervisor: SupervisorOptions
  /** Host RAM (GiB) the sleeping engines may hold together; 0 = none sleeps (a switch stops the model). */
  budgetGb: number
  log: Logger
  /**
   * The engine's status as clients see it, announced when an engine of the pool that is not the one serving
   * changes (one evicted, or one that died asleep): the pool list in the status changes, not the state.
   */
  foregroundStatus: () => EngineStatus
}

interface Member {
  readonly slot: number
  readonly sup: EngineSupervisor
  lastUsedAt: number
  /** Order of use (timestamps tie within a millisecond): the pool evicts the lowest first. */
  lastUse: number
}

/** engine.pid, engine-1.pid, ...: one pidfile per slot, so a service that died leaves every engine findable. */
const PID_FILE = /^engine(?:-(\d+))?\.pid$/
const pidFileName = (slot: number): string => (slot === 0 ? 'engine.pid' : `engine-${slot}.pid`)

/**
 * The supervised engines (vLLM, our llama.cpp child) as one backend: one of them awake on the GPU, and the
 * models marked `sleep: true` kept warm when the service switches away from them (vLLM's sleep mode: weights in
 * host RAM; a llama.cpp child: its process kept loaded), so switching back wakes them in a fraction of a load.
 * The sleeping engines hold at most `budgetGb` of host RAM together; the least recently used is stopped first
 * to make room. A sleeping engine that dies is dropped (the supervisor cleans it up); its model starts afresh
 * next time. Every engine has its own slot: its own port when VBS_ENGINE_PORT is fixed (port + slot) and its
 * own pidfile.
 */
export class WarmPool implements EngineBackend {
  private members: Member[] = []
  /** The engine the status describes: the awake one, or the last one that was. */
  private current: Member
  /** The service switched to another kind of backend (a remote): the pool's changes are background ones. */
  private parked = false
  private uses = 0

  constructor(private readonly o: WarmPoolOptions) {
    this.current = this.member(0)
  }

  private member(slot: number): Member {
    const events = new ServiceEvents()
    const sup = new EngineSupervisor({
      ...this.o.supervisor,
      port: this.o.supervisor.port === 0 ? 0 : this.o.supervisor.port + slot,
      pidFileName: pidFileName(slot),
      events,
    })
    const m: Member = { slot, sup, lastUsedAt: Date.now(), lastUse: this.touch() }
    events.on('engine.state', ({ from }) => this.relay(m, from))
    this.members.push(m)
    return m
  }

  private relay(m: Member, from: EngineState): void {
    if (m === this.current && !this.parked) this.o.supervisor.events.emit('engine.state', { from, status: this.status() })
    else {
      const status = this.o.foregroundStatus()
      this.o.supervisor.events.emit('engine.state', { from: status.state, status })
    }
  }

  get currentState(): EngineState {
    return this.current.sup.currentState
  }

  get model(): string | null {
    return this.current.sup.model
  }

  get lastError(): string | null {
    return this.current.sup.lastError
  }

  handles(kind: EngineKind): boolean {
    return this.current.sup.handles(kind)
  }

  status(): EngineStatus {
    return { ...this.current.sup.status(), pool: this.warm() }
  }

  /** Every engine that holds a process: the awake one (ready, starting, waking) first, then those asleep, the most recently used first. */
  warm(): WarmEngine[] {
    return this.members
      .filter((m) => m.sup.currentState !== 'stopped' && m.sup.currentState !== 'failed' && m.sup.model !== null)
      .sort((a, b) => Number(a.sup.currentState === 'sleeping') - Number(b.sup.currentState === 'sleeping') || b.lastUse - a.lastUse)
      .map((m) => {
        const s = m.sup.status()
        return { model: m.sup.model!, kind: s.kind, state: s.state, ramGb: m.sup.ramEstimateGb(), pid: s.pid, port: s.port, lastUsedAt: m.lastUsedAt }
      })
  }

  target(): EngineTarget | null {
    return this.current.sup.target()
  }

  capabilities(entry: ModelEntry): EngineCapabilities {
    return this.current.sup.capabilities(entry)
  }

  check(entry: ModelEntry): void {
    this.current.sup.check(entry)
  }

  markUnavailable(err: EngineError): void {
    this.current.sup.markUnavailable(err)
  }

  whenSettled(): Promise<void> {
    return this.current.sup.whenSettled()
  }

  lastFailure(): { model: string; at: number; error: EngineError } | null {
    return this.current.sup.lastFailure()
  }

  outage(): null {
    return null
  }

  suspect(): void {}

  /**
   * Makes `entry` the awake engine: the one awake now is put to sleep (or stopped), then `entry` is woken when it
   * sleeps in the pool, else started in a free slot. The caller (the Engine facade) has drained requests first.
   */
  async start(entry: ModelEntry): Promise<void> {
    this.parked = false
    const asleep = this.members.find((m) => m.sup.model === entry.id && m.sup.currentState === 'sleeping')
    const awake = this.awake()
    if (awake && awake !== asleep) await this.park(awake, `switching to ${entry.id}`)
    if (asleep && asleep.sup.currentState === 'sleeping') {
      this.current = asleep
      this.used(asleep)
      try {
        await asleep.sup.wake()
        this.o.log.info({ model: entry.id, slot: asleep.slot }, 'woke the model from the warm pool')
        return
      } catch (err) {
        // It was stopped: a fresh start below (the process is gone, or would not wake).
        this.o.log.warn({ model: entry.id, err: (err as Error).message }, 'the sleeping model did not wake: starting it afresh')
      }
    }
    const m = this.freeMember()
    this.current = m
    this.used(m)
    await m.sup.start(entry)
  }

  /** Stops serving for a switch to another kind of engine: the model awake now is kept warm when it may be. */
  async release(reason: string): Promise<void> {
    const awake = this.awake()
    if (awake) await this.park(awake, reason)
    this.parked = true
  }

  /** Stops every engine of the pool, the awake one first (explicit stop, idle unload, shutdown). */
  async stop(reason?: string): Promise<void> {
    const order = [this.current, ...this.members.filter((m) => m !== this.current)]
    for (const m of order) await m.sup.stop(reason)
    this.members = this.members.filter((m) => m === this.current)
  }

  /**
   * Ends the engines a previous run of the service left behind: every pidfile's, and on Linux every process
   * that carries this data dir's owner mark (EngineSupervisor.endLeftover).
   */
  async endLeftover(): Promise<boolean> {
    const slots = new Set<number>()
    for (const name of safeReaddir(this.o.supervisor.dataDir)) {
      const match = PID_FILE.exec(name)
      if (match && match[1] !== undefined) slots.add(Number(match[1]))
    }
    let ended = await this.current.sup.endLeftover()
    for (const slot of slots) {
      const probe = new EngineSupervisor({ ...this.o.supervisor, pidFileName: pidFileName(slot), events: new ServiceEvents() })
      ended = (await probe.endLeftover()) || ended
    }
    return ended
  }

  private touch(): number {
    this.uses += 1
    return this.uses
  }

  private used(m: Member): void {
    m.lastUsedAt = Date.now()
    m.lastUse = this.touch()
  }

  /** The engine that is up or on its way (not asleep, stopped or failed), if any. */
  private awake(): Member | undefined {
    return this.members.find((m) => ['ready', 'starting', 'waking'].includes(m.sup.currentState))
  }

  /**
   * Puts `m` to sleep when its model may sleep and the pool has room once older sleepers are stopped; stops it
   * otherwise. Room is made first, so the pool never holds more than its budget even for a moment.
   */
  private async park(m: Member, reason: string): Promise<void> {
    const model = m.sup.model
    if (m.sup.currentState !== 'ready' || !m.sup.sleepable() || this.o.budgetGb <= 0) {
      await m.sup.stop(reason)
      return
    }
    // Without an estimate the model is taken to need the whole budget: it sleeps alone.
    const need = m.sup.ramEstimateGb() ?? this.o.budgetGb
    if (need > this.o.budgetGb) {
      this.o.log.info({ model, needGb: need, budgetGb: this.o.budgetGb }, 'the model does not fit the warm pool: stopping it')
      await m.sup.stop(`${reason}; it needs ${need} GiB of RAM asleep, more than VBS_WARM_POOL_GB (${this.o.budgetGb})`)
      return
    }
    for (;;) {
      const sleepers = this.members.filter((s) => s.sup.currentState === 'sleeping')
      const used = sleepers.reduce((sum, s) => sum + (s.sup.ramEstimateGb() ?? this.o.budgetGb), 0)
      if (used + need <= this.o.budgetGb + 1e-9) break
      const oldest = sleepers.sort((a, b) => a.lastUse - b.lastUse)[0]
      this.o.log.info({ model: oldest.sup.model, usedGb: used, needGb: need, budgetGb: this.o.budgetGb }, 'warm pool full: stopping the least recently used model')
      await oldest.sup.stop(`the warm pool makes room for ${model}`)
      this.members = this.members.filter((s) => s !== oldest || s === this.current)
    }
    this.used(m)
    try {
      await m.sup.sleep()
      this.o.log.info({ model, slot: m.slot }, 'model put to sleep in the warm pool')
    } catch (err) {
      if (!(err instanceof EngineError)) throw err // sleep() stopped it and said why in the engine log
    }
  }

  /** A member whose slot holds no process: a stopped one (the lowest slot), else a new slot. */
  private freeMember(): Member {
    const idle = this.members.filter((m) => m.sup.currentState === 'stopped' || m.sup.currentState === 'failed')
    // Stopped members other than the one reused are forgotten: their slot (port, pidfile) is free again.
    const reuse = idle.sort((a, b) => a.slot - b.slot)[0]
    this.members = this.members.filter((m) => !idle.includes(m) || m === reuse)
    if (reuse) return reuse
    const taken = new Set(this.members.map((m) => m.slot))
    let slot = 0
    while (taken.has(slot)) slot += 1
    return this.member(slot)
  }
}

function safeReaddir(dir: string): string[] {
  try {
    return fs.readdirSync(dir)
  } catch {
    return []
  }
}
