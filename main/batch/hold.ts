import type { Hold, HoldKind } from '../contract/jobs'

/** Why a job waits, before it is stamped with since when. */
export interface HoldReason {
  kind: HoldKind
  detail: string
}

/** The hold for `reason`: it keeps `previous`'s `since` while the kind stays (a download's detail changes each second). */
export function holdFor(reason: HoldReason, previous: Hold | null, now = Date.now()): Hold {
  return { kind: reason.kind, detail: reason.detail, since: previous?.kind === reason.kind ? previous.since : now }
}

/** Whether `hold` already says `reason` (nothing to announce). */
export function sameHold(hold: Hold | null, reason: HoldReason | null): boolean {
  if (hold === null || reason === null) return hold === reason
  return hold.kind === reason.kind && hold.detail === reason.detail
}
