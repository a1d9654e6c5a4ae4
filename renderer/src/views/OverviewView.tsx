import { EngineSection } from '../components/EngineSection'
import { GpuSection } from '../components/GpuSection'
import { NewBatchSection } from '../components/NewBatchSection'
import { QueueSection } from '../components/QueueSection'

/** `#/`: the engine, the GPU, the drop panel and the queue. */
export function OverviewView(): React.JSX.Element {
  return (
    <main className="grid" data-testid="overview">
      <EngineSection />
      <GpuSection />
      <NewBatchSection />
      <QueueSection />
    </main>
  )
}
