import { useEffect, useRef, useState } from 'react'

/** Typing waits this long for a pause before it searches (one request per pause, not per key). */
export const SEARCH_DEBOUNCE_MS = 300

/** A search field that hands its text on after a pause in typing, or at once on Enter. */
export function SearchBox(props: { value: string; onSearch: (q: string) => void; label: string; placeholder?: string; testId?: string }): React.JSX.Element {
  const [text, setText] = useState(props.value)
  const onSearch = useRef(props.onSearch)
  onSearch.current = props.onSearch
  const sent = useRef(props.value)
  // The search set from elsewhere (an address opened or typed): the field shows it.
  useEffect(() => {
    if (props.value !== sent.current) {
      sent.current = props.value
      setText(props.value)
    }
  }, [props.value])
  useEffect(() => {
    if (text === sent.current) return
    const timer = setTimeout(() => {
      sent.current = text
      onSearch.current(text)
    }, SEARCH_DEBOUNCE_MS)
    return () => clearTimeout(timer)
  }, [text])
  return (
    <input
      type="search"
      className="search"
      aria-label={props.label}
      placeholder={props.placeholder}
      data-testid={props.testId}
      value={text}
      onChange={(e) => setText(e.target.value)}
      onKeyDown={(e) => {
        if (e.key === 'Enter' && text !== sent.current) {
          sent.current = text
          onSearch.current(text)
        }
      }}
    />
  )
}
