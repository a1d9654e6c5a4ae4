import { answerHashes } from '../answer-hash'
import type { Migration } from './index'

/**
 * What the results viewer and the comparisons read of each request without opening its result: why
 * generation stopped, a preview (the first 200 characters of the answer or of the error) and digests of the
 * answer (exact, and normalised: see answer-hash.ts), on the narrow `requests` row, so that a page, a filter,
 * a count or the agreement of two models over 200,000 requests never touch the wide result rows; likewise its
 * latency and output tokens, and on the batch the first start and the last end of its requests (its wall time,
 * for tokens per second). And a full-text index over the
 * prompt and the answer, written in the same transaction as the result. The index is contentless (the texts
 * are in the input file and the body already) and keyed by `batch_seq * 2^24 + line`, so one batch's rows are
 * one rowid range. Results stored by older versions get their preview, finish reason and answer indexed here
 * (their prompts are in the input files, which a migration does not read).
 */
export const migration0005: Migration = {
  version: 5,
  name: 'results-search',
  up: (db) => {
    db.exec(`
      ALTER TABLE requests ADD COLUMN finish_reason TEXT;
      ALTER TABLE requests ADD COLUMN preview TEXT;
      ALTER TABLE requests ADD COLUMN answer_hash TEXT;
      ALTER TABLE requests ADD COLUMN normalized_hash TEXT;
      ALTER TABLE requests ADD COLUMN latency_ms INTEGER;
      ALTER TABLE requests ADD COLUMN output_tokens INTEGER;
      ALTER TABLE batches ADD COLUMN first_started_at INTEGER;
      ALTER TABLE batches ADD COLUMN last_finished_at INTEGER;
      CREATE VIRTUAL TABLE result_search USING fts5(prompt, answer, content='', contentless_delete=1, tokenize='unicode61 remove_diacritics 2');
    `)
    db.exec(`
      UPDATE requests SET
        latency_ms = s.finished_at - s.started_at,
        output_tokens = s.output_tokens,
        finish_reason = CASE WHEN json_valid(s.body) THEN json_extract(s.body, '$.choices[0].finish_reason') END,
        preview = substr(COALESCE(
          CASE WHEN json_valid(s.body) THEN COALESCE(json_extract(s.body, '$.choices[0].message.content'), json_extract(s.body, '$.choices[0].text'), json_extract(s.body, '$.error.message')) END,
          s.error_message,
          s.body), 1, 200)
      FROM results s WHERE s.batch_seq = requests.batch_seq AND s.line = requests.line
    `)
    db.function('vbs_answer_hash', { deterministic: true }, (text: unknown, normalized: unknown) => {
      if (typeof text !== 'string') return null
      const h = answerHashes(text)
      return normalized ? h.normalized : h.exact
    })
    db.exec(`
      UPDATE requests SET answer_hash = vbs_answer_hash(a.text, 0), normalized_hash = vbs_answer_hash(a.text, 1)
      FROM (SELECT batch_seq, line, COALESCE(json_extract(body, '$.choices[0].message.content'), json_extract(body, '$.choices[0].text')) AS text
            FROM results WHERE status_code BETWEEN 200 AND 299 AND json_valid(body)) a
      WHERE a.batch_seq = requests.batch_seq AND a.line = requests.line
    `)
    db.exec(`
      INSERT INTO result_search (rowid, prompt, answer)
      SELECT batch_seq * 16777216 + line, '',
             COALESCE(json_extract(body, '$.choices[0].message.content'), json_extract(body, '$.choices[0].text'), '')
      FROM results WHERE status_code BETWEEN 200 AND 299 AND json_valid(body)
    `)
  },
}
