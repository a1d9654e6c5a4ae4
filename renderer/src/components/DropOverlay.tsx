import { useEffect } from 'react'
import { useRouteStore } from '../store/route'
import { useUploadStore } from '../store/upload'

const hasFiles = (e: DragEvent): boolean => Array.from(e.dataTransfer?.types ?? []).includes('Files')

/** Makes the whole window a drop target for a .jsonl file, with an overlay while a file is dragged over it. */
export function DropOverlay(): React.JSX.Element | null {
  const dragging = useUploadStore((s) => s.dragging)
  const setDragging = useUploadStore((s) => s.setDragging)
  const choose = useUploadStore((s) => s.choose)

  useEffect(() => {
    // dragenter/dragleave fire for every element crossed: count them to know when the drag left the window.
    let depth = 0
    const enter = (e: DragEvent): void => {
      if (!hasFiles(e)) return
      e.preventDefault()
      depth += 1
      setDragging(true)
    }
    const over = (e: DragEvent): void => {
      if (!hasFiles(e)) return
      e.preventDefault() // allows the drop
      if (e.dataTransfer) e.dataTransfer.dropEffect = 'copy'
      setDragging(true)
    }
    const leave = (e: DragEvent): void => {
      if (!hasFiles(e)) return
      depth = Math.max(0, depth - 1)
      if (depth === 0) setDragging(false)
    }
    const drop = (e: DragEvent): void => {
      e.preventDefault() // never let the browser open the file in place of the dashboard
      depth = 0
      setDragging(false)
      const file = e.dataTransfer?.files?.[0]
      if (!file) return
      void choose(file)
      // The preview is in the drop panel: the overview's, or the Compare view's "Run a file on several models".
      const { route, navigate } = useRouteStore.getState()
      const hasPanel = route.view === 'overview' || (route.view === 'compare' && route.comparisonId === null)
      if (!hasPanel) navigate({ view: 'overview' })
    }
    window.addEventListener('dragenter', enter)
    window.addEventListener('dragover', over)
    window.addEventListener('dragleave', leave)
    window.addEventListener('drop', drop)
    return () => {
      window.removeEventListener('dragenter', enter)
      window.removeEventListener('dragover', over)
      window.removeEventListener('dragleave', leave)
      window.removeEventListener('drop', drop)
    }
  }, [setDragging, choose])

  if (!dragging) return null
  return (
    <div className="drop-overlay" data-testid="drop-overlay" role="status" aria-label="Drop the .jsonl file to preview it">
      <div className="drop-overlay-box">Drop the .jsonl file to preview it</div>
    </div>
  )
}
