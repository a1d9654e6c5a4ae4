/**
 * A CSV reader (RFC 4180, as spreadsheets write it): fields split by a delimiter, quoted with `"` where they hold
 * the delimiter, a quote (doubled: `""`) or a line break; lines end in LF or CRLF; a leading BOM is dropped.
 * Pure: text in, records out, or an error naming the line.
 */
export interface CsvRecord {
  /** The line of the file the record starts on (1-based): a quoted field may span lines. */
  line: number
  fields: string[]
}

export class CsvError extends Error {
  constructor(
    readonly line: number,
    detail: string,
  ) {
    super(`line ${line}: ${detail}`)
    this.name = 'CsvError'
  }
}

/** Every record of `text`; records that are blank lines are skipped. */
export function parseCsv(text: string, delimiter = ','): CsvRecord[] {
  const records: CsvRecord[] = []
  const s = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text
  let line = 1
  let i = 0
  const n = s.length
  while (i < n) {
    const startLine = line
    const fields: string[] = []
    let field = ''
    for (;;) {
      if (s[i] === '"') {
        const quoteLine = line
        i += 1
        for (;;) {
          if (i >= n) throw new CsvError(quoteLine, 'a quoted field is never closed (a " is missing)')
          const c = s[i]
          if (c === '"') {
            if (s[i + 1] === '"') {
              field += '"'
              i += 2
              continue
            }
            i += 1
            break
          }
          if (c === '\n') line += 1
          field += c
          i += 1
        }
        if (i < n && s[i] !== delimiter && s[i] !== '\n' && s[i] !== '\r') {
          throw new CsvError(line, `text after a closing quote: ${JSON.stringify(s.slice(i, i + 20))} (a quote inside a quoted field is written "")`)
        }
      } else {
        while (i < n && s[i] !== delimiter && s[i] !== '\n' && s[i] !== '\r') field += s[i++]
      }
      fields.push(field)
      field = ''
      if (i >= n) break
      if (s[i] === delimiter) {
        i += 1
        continue
      }
      // A line end: CRLF or LF (a lone CR too).
      if (s[i] === '\r' && s[i + 1] === '\n') i += 2
      else i += 1
      line += 1
      break
    }
    if (!(fields.length === 1 && fields[0] === '')) records.push({ line: startLine, fields })
  }
  return records
}
