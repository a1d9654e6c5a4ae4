import { useState } from 'react'
import { ASK_MESSAGE, useAuthStore } from '../store/auth'

/** Asks for the API key: once when none is known, again (saying why) after the service refused one. */
export function KeyForm(): React.JSX.Element {
  const message = useAuthStore((s) => s.message)
  const enter = useAuthStore((s) => s.enter)
  const [value, setValue] = useState('')
  const rejected = message !== null && message !== ASK_MESSAGE
  return (
    <main className="key-page">
      <form
        className="card key-form"
        aria-labelledby="key-title"
        onSubmit={(e) => {
          e.preventDefault()
          enter(value)
        }}
      >
        <h1 id="key-title">vLLM Batch Server</h1>
        {rejected ? (
          <p className="callout callout-danger" role="alert">
            {message}
          </p>
        ) : (
          <p className="muted">{message ?? ASK_MESSAGE}</p>
        )}
        <label className="field">
          <span>API key</span>
          <input
            type="password"
            name="api-key"
            autoComplete="off"
            spellCheck={false}
            value={value}
            onChange={(e) => setValue(e.target.value)}
            autoFocus
            required
          />
        </label>
        <button type="submit" className="primary" disabled={value.trim() === ''}>
          Use this key
        </button>
      </form>
    </main>
  )
}
