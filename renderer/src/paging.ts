/** Paged tables (the results of a job, the rows of a comparison): offsets of pages of `limit` rows. */

/** The offset of the last page of `total` rows (0 when there are none). */
export function lastPageOffset(total: number, limit: number): number {
  return total > 0 ? Math.floor((total - 1) / limit) * limit : 0
}

/**
 * For a page that came back empty because it lies past the end of its rows (an old link, rows that went away):
 * the offset of the last page, to be shown instead; null for any other page.
 */
export function pastTheEnd(page: { data: readonly unknown[]; total: number }, query: { offset: number; limit: number }): number | null {
  if (page.data.length > 0 || page.total === 0) return null
  const last = lastPageOffset(page.total, query.limit)
  return last < query.offset ? last : null
}
