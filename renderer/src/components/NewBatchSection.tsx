import { useRef, useState } from 'react'
import { formatBytes, formatCount, formatPercent, plural } from '../format'
import { PREVIEW_CHECK_LINES } from '../jsonl-preview'
import { formatHash } from '../route'
import { useEngineStore } from '../store/engine'
import { useUploadStore } from '../store/upload'
import { ProgressBar } from './ProgressBar'
import { Card } from './Card'
import { RunOnModels } from './RunOnModels'

function Problems(): React.JSX.Element | null {
  const preview = useUploadStore((s) => s.preview)
  if (!preview) return null
  const checkedAll = preview.checkedLines === preview.lines
  const scope = checkedAll ? 'in the file' : `in the first ${formatCount(PREVIEW_CHECK_LINES)} lines`
  if (preview.problems.length === 0) {
    return (
      <p className="ok-text small">
        No problems found {scope}.{!checkedAll && ' The service checks every line when the batch is created.'}
      </p>
    )
  }
  return (
    <div className="problems">
      <p className="danger-text">
        <strong>
          {plural(preview.problems.length + preview.moreProblems, 'problem')} found {scope}
        </strong>{' '}
        — the service would fail this batch. Fix the file and drop it again.
      </p>
      <ul data-testid="preview-problems">
        {preview.problems.map((p, i) => (
          <li key={i}>{p.line === null ? p.message : `line ${p.line}: ${p.message}`}</li>
        ))}
        {preview.moreProblems > 0 && <li className="muted">and {plural(preview.moreProblems, 'more problem')}</li>}
      </ul>
    </div>
  )
}

function UnknownModels(): React.JSX.Element | null {
  const models = useUploadStore((s) => s.preview?.models)
  const registry = useEngineStore((s) => s.models)
  if (!models || registry.length === 0) return null
  const known = new Set(registry.flatMap((m) => [m.id, ...m.aliases]))
  const unknown = models.filter((m) => !known.has(m))
  if (unknown.length === 0) return null
  return (
    <p className="callout callout-warn small">
      Not in models.yaml: {unknown.map((m) => `'${m}'`).join(', ')}. Use one of: {registry.map((m) => m.id).join(', ')}.
    </p>
  )
}

/** The upload and what it became (a batch, or a comparison), with its progress; exported for the Compare view. */
export function UploadStatus(): React.JSX.Element | null {
  const upload = useUploadStore((s) => s.upload)
  const cancel = useUploadStore((s) => s.cancelUpload)
  switch (upload.phase) {
    case 'idle':
      return null
    case 'uploading': {
      const fraction = upload.total > 0 ? upload.loaded / upload.total : 0
      return (
        <div className="upload-status" data-testid="upload-progress">
          <ProgressBar value={fraction} label="Upload" text={`${formatPercent(fraction)} uploaded`} />
          <span className="small">
            Uploading {formatPercent(fraction)} ({formatBytes(upload.loaded)} of {formatBytes(upload.total)})
          </span>
          <button type="button" className="link" onClick={cancel}>
            Cancel upload
          </button>
        </div>
      )
    }
    case 'creating':
      return (
        <div className="upload-status" data-testid="upload-progress">
          <ProgressBar value={1} label="Upload" text="uploaded" />
          <span className="small">
            Uploaded {formatBytes(upload.total)}; creating the {upload.what === 'comparison' ? 'comparison' : 'batch'}…
          </span>
        </div>
      )
    case 'done':
      return (
        <div className="upload-status" data-testid="upload-progress">
          <ProgressBar value={1} label="Upload" tone="ok" text="done" />
          <span className="small ok-text" role="status">
            Submitted as <code>{upload.batchId}</code>: it appears in the queue below.
          </span>
        </div>
      )
    case 'compared':
      return (
        <div className="upload-status" data-testid="upload-progress">
          <ProgressBar value={1} label="Upload" tone="ok" text="done" />
          <span className="small ok-text" role="status">
            Running on {upload.models.join(', ')} as the comparison{' '}
            <a href={formatHash({ view: 'compare', comparisonId: upload.comparisonId })}>{upload.comparisonId}</a>.
          </span>
        </div>
      )
    case 'failed':
      return (
        <div className="callout callout-danger" role="alert" data-testid="upload-error">
          <strong>{upload.step === 'upload' ? 'The upload failed' : upload.step === 'compare' ? 'The comparison was not created' : 'The batch was not created'}</strong>
          <p>{upload.error}</p>
        </div>
      )
  }
}

function Preview(props: { compare: boolean }): React.JSX.Element | null {
  const file = useUploadStore((s) => s.file)
  const preview = useUploadStore((s) => s.preview)
  const previewing = useUploadStore((s) => s.previewing)
  const previewError = useUploadStore((s) => s.previewError)
  const phase = useUploadStore((s) => s.upload.phase)
  const submit = useUploadStore((s) => s.submit)
  const clear = useUploadStore((s) => s.clear)
  const [picking, setPicking] = useState(props.compare)
  if (!file) return null
  if (previewError) {
    return (
      <div className="preview" data-testid="drop-preview">
        <p className="callout callout-danger" role="alert">
          {previewError}
        </p>
        <button type="button" onClick={clear}>
          Clear
        </button>
      </div>
    )
  }
  if (previewing || !preview) {
    return (
      <div className="preview" data-testid="drop-preview" aria-busy="true">
        <p className="muted">
          Reading {file.name} ({formatBytes(file.size)})…
        </p>
      </div>
    )
  }
  const busy = phase === 'uploading' || phase === 'creating'
  const models = preview.models
  return (
    <div className="preview" data-testid="drop-preview">
      <h3 className="preview-title">
        {file.name} <span className="muted small">{formatBytes(preview.bytes)}</span>
      </h3>
      <dl className="facts">
        <dt>Requests</dt>
        <dd data-testid="preview-lines">
          {plural(preview.lines, 'line')}
          {preview.blankLines > 0 && <span className="muted"> (and {plural(preview.blankLines, 'blank line')}, skipped)</span>}
        </dd>
        <dt>Endpoint</dt>
        <dd data-testid="preview-endpoint">{preview.endpoint ? <code>{preview.endpoint}</code> : <span className="danger-text">none found</span>}</dd>
        <dt>{models.length > 1 ? 'Models' : 'Model'}</dt>
        <dd data-testid="preview-model">{models.length > 0 ? models.join(', ') : <span className="danger-text">none found</span>}</dd>
      </dl>
      <Problems />
      <UnknownModels />
      <div className="row">
        {!props.compare && (
          <>
            <button type="button" className="primary" disabled={busy || !preview.endpoint || preview.lines === 0} onClick={() => void submit()}>
              Submit batch
            </button>
            <button type="button" aria-expanded={picking} disabled={busy || !preview.endpoint || preview.lines === 0} onClick={() => setPicking(!picking)}>
              Run on several models
            </button>
          </>
        )}
        <button type="button" disabled={busy} onClick={clear}>
          Clear
        </button>
        {!preview.endpoint && <span className="muted small">No line names a batch endpoint: nothing to submit.</span>}
      </div>
      {picking && preview.endpoint && <RunOnModels />}
      <UploadStatus />
    </div>
  )
}

/**
 * A new batch: pick or drop a .jsonl file, see the preview, submit it, or run it on several models. In the
 * Compare view (`compare`) only the latter.
 */
export function NewBatchSection(props: { compare?: boolean }): React.JSX.Element {
  const compare = props.compare ?? false
  const input = useRef<HTMLInputElement>(null)
  const choose = useUploadStore((s) => s.choose)
  const busy = useUploadStore((s) => s.upload.phase === 'uploading' || s.upload.phase === 'creating')
  return (
    <Card id={compare ? 'new-comparison' : 'new-batch'} title={compare ? 'Run a file on several models' : 'New batch'} wide>
      <div className="dropzone" data-testid="drop-zone" aria-label="Drop a .jsonl batch file anywhere on this window">
        <span>Drop a <code>.jsonl</code> file anywhere on this window, or</span>
        <button type="button" onClick={() => input.current?.click()} disabled={busy}>
          Choose a .jsonl file…
        </button>
        <input
          ref={input}
          className="visually-hidden"
          type="file"
          accept=".jsonl,application/jsonl,application/x-ndjson"
          aria-label="Batch input file (.jsonl)"
          data-testid="file-input"
          tabIndex={-1}
          onChange={(e) => {
            const file = e.target.files?.[0]
            if (file) void choose(file)
            e.target.value = '' // choosing the same file again is a new choice
          }}
        />
        <span className="muted small">One request per line, as for OpenAI's Batch API. It is checked here before anything is uploaded.</span>
      </div>
      <Preview compare={compare} />
    </Card>
  )
}
