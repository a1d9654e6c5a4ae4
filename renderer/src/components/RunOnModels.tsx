import { useState } from 'react'
import { useEngineStore } from '../store/engine'
import { useRouteStore } from '../store/route'
import { useUploadStore } from '../store/upload'

/** A comparison runs one file on 2 to 4 models (the service's bounds). */
export const MIN_MODELS = 2
export const MAX_MODELS = 4

/**
 * "Run on several models": pick 2 to 4 models of models.yaml for the chosen file; it is uploaded, one batch
 * per model is made (the file's own model replaced), and the comparison opens.
 */
export function RunOnModels(): React.JSX.Element {
  const registry = useEngineStore((s) => s.models)
  const fileModels = useUploadStore((s) => s.preview?.models)
  const busy = useUploadStore((s) => s.upload.phase === 'uploading' || s.upload.phase === 'creating')
  const runOnModels = useUploadStore((s) => s.runOnModels)
  const navigate = useRouteStore((s) => s.navigate)
  // The file's own model, when models.yaml has it, is a likely first pick.
  const [chosen, setChosen] = useState<string[]>(() => {
    const own = registry.find((m) => fileModels?.some((f) => f === m.id || m.aliases.includes(f)))
    return own ? [own.id] : []
  })
  const toggle = (id: string): void => setChosen((c) => (c.includes(id) ? c.filter((x) => x !== id) : [...c, id]))
  const ordered = registry.map((m) => m.id).filter((id) => chosen.includes(id))
  const run = async (): Promise<void> => {
    const id = await runOnModels(ordered)
    if (id) navigate({ view: 'compare', comparisonId: id })
  }
  if (registry.length < MIN_MODELS) {
    return (
      <p className="callout callout-warn small" data-testid="run-on-models">
        A comparison needs at least {MIN_MODELS} models in models.yaml; it lists {registry.length}.
      </p>
    )
  }
  return (
    <fieldset className="model-picker" data-testid="run-on-models">
      <legend>Run on several models</legend>
      <p className="muted small">
        Pick {MIN_MODELS} to {MAX_MODELS} models. Each gets a batch of this file (its own model is replaced), queued so each model loads once; then
        the answers are put side by side.
      </p>
      <div className="model-choices">
        {registry.map((m) => (
          <label key={m.id} className="check">
            <input
              type="checkbox"
              checked={chosen.includes(m.id)}
              disabled={busy || (!chosen.includes(m.id) && chosen.length >= MAX_MODELS)}
              onChange={() => toggle(m.id)}
            />
            <span>
              {m.id}
              {m.description && <span className="muted small"> {m.description}</span>}
            </span>
          </label>
        ))}
      </div>
      <div className="row">
        <button type="button" className="primary" disabled={busy || ordered.length < MIN_MODELS || ordered.length > MAX_MODELS} onClick={() => void run()}>
          {ordered.length >= MIN_MODELS ? `Run on ${ordered.length} models` : 'Run on the models picked'}
        </button>
        {ordered.length < MIN_MODELS && <span className="muted small">Pick at least {MIN_MODELS}.</span>}
      </div>
    </fieldset>
  )
}
