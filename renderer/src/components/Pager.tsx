import { formatCount } from '../format'
import { lastPageOffset } from '../paging'

/** Where a paged table stands ("rows 51–100 of 200,000") and the buttons that move it; the pages are the service's. */
export function Pager(props: {
  offset: number
  limit: number
  /** Rows on this page. */
  count: number
  total: number
  hasMore: boolean
  onOffset: (offset: number) => void
  noun: string
}): React.JSX.Element {
  const { offset, limit, count, total } = props
  const lastOffset = lastPageOffset(total, limit)
  return (
    <div className="pager" data-testid="pager">
      <span className="small" data-testid="pager-range">
        {total === 0 ? `No ${props.noun}` : `${props.noun} ${formatCount(offset + 1)}–${formatCount(offset + count)} of ${formatCount(total)}`}
      </span>
      <span className="spacer" />
      <button type="button" disabled={offset === 0} onClick={() => props.onOffset(0)} aria-label="First page">
        «
      </button>
      <button type="button" disabled={offset === 0} onClick={() => props.onOffset(Math.max(0, offset - limit))}>
        Previous
      </button>
      <span className="small muted">
        page {formatCount(Math.floor(offset / limit) + 1)} of {formatCount(Math.max(1, Math.ceil(total / limit)))}
      </span>
      <button type="button" disabled={!props.hasMore} onClick={() => props.onOffset(offset + limit)}>
        Next
      </button>
      <button type="button" disabled={!props.hasMore} onClick={() => props.onOffset(lastOffset)} aria-label="Last page">
        »
      </button>
    </div>
  )
}
