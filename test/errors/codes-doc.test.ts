import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ERROR_CODES, STATUS_OK, codeForStatus, type ErrorCode } from '../../src/errors/codes.js';
import { HeartlineError } from '../../src/errors/heartline-error.js';

const doc = readFileSync(new URL('../../protocol.md', import.meta.url), 'utf8');

/**
 * Rows of the status table in protocol.md section 7: `| status | CODE | where | retry | meaning |`.
 * `where` is `wire` (may arrive in a frame), `local` (never sent) or `both` (may arrive in a
 * frame and is also produced locally by the consumer). Every line of the table that starts with
 * a status number must parse, so a misspelt column fails loudly instead of dropping the row.
 */
function documentedRows(): Map<string, { status: number; where: string; retry: string }> {
  const rows = new Map<string, { status: number; where: string; retry: string }>();
  const start = doc.indexOf('\n## 7.');
  const end = doc.indexOf('\n## 8.', start);
  if (start < 0 || end < 0) throw new Error('protocol.md has no section 7 followed by section 8');
  for (const line of doc.slice(start, end).split('\n')) {
    if (!/^\|\s*\d+\s*\|/.test(line)) continue;
    const m = /^\|\s*(\d+)\s*\|\s*([A-Z_]+)\s*\|\s*(wire|local|both)\s*\|\s*(yes|no|—)\s*\|/.exec(line);
    if (m === null) throw new Error(`unparsable row in protocol.md section 7: ${line}`);
    if (rows.has(m[2]!)) throw new Error(`${m[2]} is documented twice`);
    rows.set(m[2]!, { status: Number(m[1]), where: m[3]!, retry: m[4]! });
  }
  return rows;
}

describe('error codes', () => {
  const rows = documentedRows();

  it('every code in the source is documented with the same status and retry safety', () => {
    for (const [code, info] of Object.entries(ERROR_CODES)) {
      const row = rows.get(code);
      expect(row, `${code} missing from protocol.md`).toBeDefined();
      expect(row!.status, code).toBe(info.status);
      expect(row!.retry, code).toBe(info.retrySafe ? 'yes' : 'no');
      // onWire <-> documented as arriving in frames ('wire' or 'both'); otherwise exactly 'local'.
      if (info.onWire) expect(['wire', 'both'], code).toContain(row!.where);
      else expect(row!.where, code).toBe('local');
    }
  });

  it('every documented code exists in the source', () => {
    expect(rows.get('OK')?.status).toBe(STATUS_OK);
    for (const code of rows.keys()) {
      if (code === 'OK') continue;
      expect(Object.hasOwn(ERROR_CODES, code), `${code} is documented but not in ERROR_CODES`).toBe(true);
    }
  });

  it('statuses are unique and map back to their codes', () => {
    for (const code of Object.keys(ERROR_CODES) as ErrorCode[]) {
      expect(codeForStatus(ERROR_CODES[code].status)).toBe(code);
      expect(ERROR_CODES[code].status).not.toBe(STATUS_OK);
    }
  });

  it('HeartlineError exposes code, status, retry safety and cause', () => {
    const cause = new Error('socket');
    const err = new HeartlineError('CONNECTION_LOST_UNWRITTEN', 'lost', { cause });
    expect(err).toBeInstanceOf(Error);
    expect(err.code).toBe('CONNECTION_LOST_UNWRITTEN');
    expect(err.status).toBe(2);
    expect(err.retrySafe).toBe(true);
    expect(err.cause).toBe(cause);
    expect(new HeartlineError('TIMEOUT', 't').retrySafe).toBe(false);
  });
});
