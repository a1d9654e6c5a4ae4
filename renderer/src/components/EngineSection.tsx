import { useState } from 'react'
import { formatBytes, formatCount, formatDuration } from '../format'
import { useEngineStore } from '../store/engine'
import type { EngineKind, EngineState, WarmEngine } from '../types'
import { Card } from './Card'

/** How engines are named to people. */
export const KIND_LABEL: Record<EngineKind, string> = { vllm: 'vLLM', 'llama.cpp': 'llama.cpp', remote: 'remote server' }

const STATE_TONE: Record<EngineState, string> = {
  stopped: '',
  starting: 'pill-info',
  ready: 'pill-ok',
  sleeping: '',
  waking: 'pill-info',
  stopping: 'pill-info',
  failed: 'pill-danger',
}

/** What to do about an engine error, by what it says. */
export function engineAdvice(error: string): { title: string; hint: string } {
  if (/vLLM not found/i.test(error)) {
    return {
      title: 'vLLM is not installed where the service looks for it',
      hint: 'Install it on this machine with `pip install vllm` (in the environment the service runs in), or set VBS_VLLM_BIN to the vllm executable and restart the service. Then press Start.',
    }
  }
  if (/could not download|To install it by hand/i.test(error)) {
    return {
      title: 'The model file could not be downloaded',
      hint: 'Check the network (or the hf: reference in models.yaml), then press Start: the download resumes where it stopped. Without a network, put the file where the message says and press Start.',
    }
  }
  if (/is not answering|refused the API key|api_key_env|environment variable/i.test(error)) {
    return {
      title: 'The remote server cannot be used',
      hint: "Batches for it wait and continue once it answers. Check that the server runs and its base_url in models.yaml; a key is read from the variable named by api_key_env when the service starts.",
    }
  }
  if (/free|does not fit|cannot fit|out of memory|OOM/i.test(error)) {
    return {
      title: 'The model does not fit in the GPU memory',
      hint: 'Close other programs that use the GPU, or choose a smaller model (or lower its max_model_len in models.yaml), then press Start.',
    }
  }
  if (/timed? ?out|timeout/i.test(error)) {
    return {
      title: 'The model did not finish loading in time',
      hint: "Check the log below. A first load downloads the weights and can take long: raise the model's load_timeout_s in models.yaml, then press Start.",
    }
  }
  return { title: 'The engine failed', hint: 'Read the log below for the cause, fix it, then press Start to try again.' }
}

function EngineError(): React.JSX.Element | null {
  const error = useEngineStore((s) => (s.status && s.status.state !== 'ready' ? s.status.lastError : null))
  if (!error) return null
  const advice = engineAdvice(error)
  return (
    <div className="callout callout-danger" role="alert" data-testid="engine-error">
      <strong>{advice.title}</strong>
      <p className="mono wrap">{error}</p>
      <p>{advice.hint}</p>
    </div>
  )
}

function RegistryError(): React.JSX.Element | null {
  const registry = useEngineStore((s) => s.status?.registry)
  if (!registry?.error) return null
  return (
    <div className="callout callout-warn" role="alert">
      <strong>models.yaml has an error</strong>
      <p className="mono wrap">{registry.error}</p>
      <p>
        The last good registry stays in use. Fix <code>{registry.path}</code>; it is read again when it changes.
      </p>
    </div>
  )
}

function Download(): React.JSX.Element | null {
  const d = useEngineStore((s) => s.status?.download ?? null)
  if (!d || d.state !== 'downloading') return null
  const fraction = d.totalBytes ? d.receivedBytes / d.totalBytes : null
  return (
    <div className="download" data-testid="engine-download">
      <progress max={1} value={fraction ?? undefined} aria-label="Model download" />
      <p className="muted small">
        Downloading the model file: {formatBytes(d.receivedBytes)}
        {d.totalBytes ? ` of ${formatBytes(d.totalBytes)} (${Math.floor((fraction ?? 0) * 100)}%)` : ''}
        {d.bytesPerSecond > 0 ? ` · ${formatBytes(d.bytesPerSecond)}/s` : ''}
        {d.etaSeconds !== null ? ` · ${formatDuration(d.etaSeconds)} left` : ''}
      </p>
    </div>
  )
}

function Facts(): React.JSX.Element | null {
  const kind = useEngineStore((s) => s.status?.kind ?? null)
  const remoteUrl = useEngineStore((s) => s.status?.remoteUrl ?? null)
  const model = useEngineStore((s) => s.status?.model ?? null)
  const state = useEngineStore((s) => s.status?.state)
  const phase = useEngineStore((s) => s.status?.phase ?? null)
  const uptimeS = useEngineStore((s) => s.status?.uptimeS ?? null)
  const pid = useEngineStore((s) => s.status?.pid ?? null)
  const port = useEngineStore((s) => s.status?.port ?? null)
  const restarts = useEngineStore((s) => s.status?.restarts ?? 0)
  if (!state) return null
  return (
    <dl className="facts">
      <dt>Current model</dt>
      <dd data-testid="engine-model">{model ?? 'none'}</dd>
      {kind && (
        <>
          <dt>Engine</dt>
          <dd data-testid="engine-kind">
            {KIND_LABEL[kind]}
            {remoteUrl ? ` at ${remoteUrl}` : ''}
          </dd>
        </>
      )}
      {state === 'starting' && (
        <>
          <dt>Loading</dt>
          <dd data-testid="engine-phase">{phase ?? 'starting process'}</dd>
        </>
      )}
      {state === 'waking' && (
        <>
          <dt>Waking</dt>
          <dd data-testid="engine-phase">from sleep (weights back from host RAM)</dd>
        </>
      )}
      {state === 'ready' && uptimeS !== null && (
        <>
          <dt>Up for</dt>
          <dd>{formatDuration(uptimeS)}</dd>
        </>
      )}
      {pid !== null && (
        <>
          <dt>Process</dt>
          <dd>
            pid {pid}
            {port !== null ? `, port ${port}` : ''}
          </dd>
        </>
      )}
      {restarts > 0 && (
        <>
          <dt>Restarts</dt>
          <dd>{formatCount(restarts)} after crashes</dd>
        </>
      )}
    </dl>
  )
}

const NO_POOL: WarmEngine[] = []

/** The models asleep in the warm pool (and the one awake beside them): switching to one wakes it in seconds. */
function WarmPoolList(): React.JSX.Element | null {
  const pool = useEngineStore((s) => s.status?.pool ?? NO_POOL)
  const budget = useEngineStore((s) => s.status?.warmPoolGb ?? null)
  if (!pool.some((w) => w.state === 'sleeping')) return null
  const asleepGb = pool.filter((w) => w.state === 'sleeping').reduce((sum, w) => sum + (w.ramGb ?? 0), 0)
  return (
    <div className="warm-pool" data-testid="engine-pool">
      <p className="muted small">
        Kept warm: switching to a sleeping model wakes it in seconds instead of loading it
        {budget !== null ? ` (${formatGb(asleepGb)} of ${formatGb(budget)} host RAM in use)` : ''}.
      </p>
      <ul>
        {pool.map((w) => (
          <li key={`${w.model}:${w.pid ?? ''}`} data-testid={`pool-${w.model}`} data-state={w.state}>
            <span className="mono">{w.model}</span> <span className={`pill ${STATE_TONE[w.state]}`}>{w.state === 'sleeping' ? 'asleep' : w.state}</span>
            {w.ramGb !== null && w.state === 'sleeping' ? <span className="muted small"> · {formatGb(w.ramGb)} RAM</span> : null}
          </li>
        ))}
      </ul>
    </div>
  )
}

const formatGb = (gb: number): string => `${gb >= 10 ? Math.round(gb) : Math.round(gb * 10) / 10} GiB`

function Controls(): React.JSX.Element {
  const state = useEngineStore((s) => s.status?.state ?? 'stopped')
  const current = useEngineStore((s) => s.status?.model ?? null)
  const models = useEngineStore((s) => s.models)
  const pool = useEngineStore((s) => s.status?.pool ?? NO_POOL)
  const pending = useEngineStore((s) => s.pending)
  const start = useEngineStore((s) => s.start)
  const stop = useEngineStore((s) => s.stop)
  const switchTo = useEngineStore((s) => s.switchTo)
  const [chosen, setChosen] = useState<string | null>(null)
  const selected = chosen ?? current ?? models[0]?.id ?? ''
  const running = state === 'starting' || state === 'ready' || state === 'waking'
  const description = models.find((m) => m.id === selected)?.description
  const busy = pending !== null || state === 'stopping'
  return (
    <div className="engine-controls">
      <div className="row">
        <label className="field inline">
          <span>Model to run</span>
          <select value={selected} onChange={(e) => setChosen(e.target.value)} disabled={models.length === 0}>
            {models.length === 0 && <option value="">No models in models.yaml</option>}
            {models.map((m) => (
              <option key={m.id} value={m.id}>
                {m.id}
                {` · ${KIND_LABEL[m.engine]}`}
                {state === 'ready' && m.id === current ? ' (loaded)' : ''}
                {pool.some((w) => w.model === m.id && w.state === 'sleeping') ? ' (asleep)' : ''}
                {m.max_model_len ? ` · ${formatCount(m.max_model_len)} tokens` : ''}
              </option>
            ))}
          </select>
        </label>
        {running ? (
          <button type="button" disabled={busy || selected === '' || selected === current} onClick={() => void switchTo(selected)}>
            {pending === 'switch' ? 'Switching…' : 'Switch model'}
          </button>
        ) : (
          <button type="button" className="primary" disabled={busy} onClick={() => void start(selected && selected !== current ? selected : undefined)}>
            {pending === 'start' ? 'Starting…' : 'Start'}
          </button>
        )}
        <button type="button" disabled={busy || !running} onClick={() => void stop()}>
          {pending === 'stop' || state === 'stopping' ? 'Stopping…' : 'Stop'}
        </button>
      </div>
      {description && <p className="muted small">{description}</p>}
    </div>
  )
}

function ActionError(): React.JSX.Element | null {
  const error = useEngineStore((s) => s.actionError)
  const dismiss = useEngineStore((s) => s.dismissError)
  if (!error) return null
  return (
    <p className="callout callout-danger" role="alert" data-testid="engine-action-error">
      {error}{' '}
      <button type="button" className="link" onClick={dismiss}>
        Dismiss
      </button>
    </p>
  )
}

function LogTail(): React.JSX.Element | null {
  const lines = useEngineStore((s) => s.status?.logTail)
  const failed = useEngineStore((s) => s.status?.state === 'failed')
  if (!lines) return null
  return (
    <details className="log" open={failed}>
      <summary>Engine log ({formatCount(lines.length)} recent lines)</summary>
      {lines.length === 0 ? <p className="muted small">Nothing logged yet.</p> : <pre>{lines.join('\n')}</pre>}
    </details>
  )
}

export function EngineSection(): React.JSX.Element {
  const state = useEngineStore((s) => s.status?.state ?? null)
  const loadError = useEngineStore((s) => s.loadError)
  return (
    <Card
      id="engine"
      title="Engine"
      head={
        <>
          {state && (
            <span className={`pill ${STATE_TONE[state]}`} data-testid="engine-state">
              {state}
            </span>
          )}
        </>
      }
    >
      {state === null ? (
        loadError ? (
          <p className="callout callout-danger">Could not read the engine status: {loadError}</p>
        ) : (
          <p className="muted">Loading…</p>
        )
      ) : (
        <>
          <EngineError />
          <RegistryError />
          <Facts />
          <WarmPoolList />
          <Download />
          <Controls />
          <ActionError />
          <LogTail />
        </>
      )}
    </Card>
  )
}
