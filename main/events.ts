import { EventEmitter } from 'node:events'
import type { Settings } from './config/settings'
import type { StreamEventMap } from './contract/events'

/**
 * Everything the service announces: the dashboard's event stream (routes/events.ts) and the tray listen here.
 * The stream's events are the contract's; inside, `settings.changed` carries the settings themselves.
 */
export interface ServiceEventMap extends Omit<StreamEventMap, 'hello' | 'settings.changed'> {
  'settings.changed': { settings: Settings }
  /** The service is stopping: long-lived streams end now. */
  'service.stopping': Record<string, never>
}

export class ServiceEvents {
  private readonly emitter = new EventEmitter()
  /** Events held back while a transaction runs (see afterCommit). */
  private held: [keyof ServiceEventMap, unknown][] | null = null

  constructor() {
    this.emitter.setMaxListeners(100)
  }

  emit<K extends keyof ServiceEventMap>(name: K, payload: ServiceEventMap[K]): void {
    if (this.held) this.held.push([name, payload])
    else this.emitter.emit(name, payload)
  }

  /**
   * Runs `transaction` (synchronous: a SQLite transaction) holding back every event it emits: they go out
   * once it has returned, and are dropped if it throws, so nobody hears of a change that was rolled back.
   */
  afterCommit<T>(transaction: () => T): T {
    if (this.held) return transaction() // nested: the outermost call decides
    this.held = []
    let events: [keyof ServiceEventMap, unknown][]
    let result: T
    try {
      result = transaction()
    } finally {
      events = this.held
      this.held = null
    }
    for (const [name, payload] of events) this.emitter.emit(name, payload)
    return result
  }

  on<K extends keyof ServiceEventMap>(name: K, listener: (payload: ServiceEventMap[K]) => void): () => void {
    this.emitter.on(name, listener)
    return () => this.emitter.off(name, listener)
  }
}
