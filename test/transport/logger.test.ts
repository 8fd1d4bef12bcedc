import { describe, expect, it } from 'vitest';
import { HeartlineError } from '../../src/errors/heartline-error.js';
import { logErr, withFields } from '../../src/transport/log-fields.js';
import { createConsoleLogger, type LogFields, type Logger } from '../../src/transport/logger.js';

function console_(level?: 'debug' | 'info' | 'warn' | 'error') {
  const lines: string[] = [];
  return { logger: createConsoleLogger({ level, write: (l) => lines.push(l) }), lines };
}

function recorder(withChild = false) {
  const lines: Array<{ obj: LogFields; msg: string; child?: LogFields }> = [];
  const make = (bound?: LogFields): Logger => {
    const l: Logger = {
      warn: (obj, msg) => void lines.push({ obj, msg, ...(bound && { child: bound }) }),
      error: (obj, msg) => void lines.push({ obj, msg, ...(bound && { child: bound }) }),
    };
    if (withChild) l.child = (b) => make({ ...bound, ...b });
    return l;
  };
  return { logger: make(), lines };
}

describe('the default console logger', () => {
  it('writes warn and error, one line each with compact fields; drops info and debug', () => {
    const { logger, lines } = console_();
    logger.debug!({}, 'debug');
    logger.info!({}, 'info');
    logger.warn({ peer: '127.0.0.1:5000', connectionId: 3, n: null, skipped: undefined }, 'consumer is not reading');
    logger.error({ service: 'demo.Greeter', err: new HeartlineError('HANDLER_ERROR', 'boom here') }, 'handler failed');
    expect(lines).toEqual([
      '[heartline] warn consumer is not reading peer=127.0.0.1:5000 connectionId=3 n=null',
      '[heartline] error handler failed service=demo.Greeter err=HANDLER_ERROR:"boom here"',
    ]);
  });

  it('writes info and debug when asked (level)', () => {
    const info = console_('info');
    info.logger.debug!({}, 'd');
    info.logger.info!({ a: 1 }, 'i');
    expect(info.lines).toEqual(['[heartline] info i a=1']);
    const errorOnly = console_('error');
    errorOnly.logger.warn({}, 'w');
    errorOnly.logger.error({}, 'e');
    expect(errorOnly.lines).toEqual(['[heartline] error e']);
    expect(() => createConsoleLogger({ level: 'loud' as never })).toThrow(TypeError);
  });

  it('keeps one line whatever a peer puts in a message or a value, cuts long values, never throws on odd fields', () => {
    const { logger, lines } = console_();
    const hostile = { get boom(): never { throw new Error('getter'); } };
    const circular: Record<string, unknown> = {};
    circular.self = circular;
    logger.warn({ reason: 'a\nforged line', long: 'x'.repeat(500), circular, hostile }, 'bad\r\n[heartline] error forged');
    expect(lines).toHaveLength(1);
    expect(lines[0]).not.toMatch(/[\r\n]/);
    expect(lines[0]).toContain('bad\\r\\n[heartline] error forged');
    expect(lines[0]).toContain('reason="a\\nforged line"');
    expect(lines[0]).toContain(`long="${'x'.repeat(200)}…"`);
    expect(lines[0]).toContain('circular=(unreadable)');
  });
});

describe('withFields', () => {
  it("uses the logger's child() when it has one", () => {
    const { logger, lines } = recorder(true);
    withFields(logger, { peer: 'p', connectionId: 1 }).warn({ x: 1 }, 'm');
    expect(lines).toEqual([{ obj: { x: 1 }, msg: 'm', child: { peer: 'p', connectionId: 1 } }]);
  });

  it('merges the fields itself otherwise (a line’s own fields win), and keeps info only where the logger has it', () => {
    const { logger, lines } = recorder(false);
    const bound = withFields(logger, { peer: 'p', connectionId: 1 });
    bound.error({ connectionId: 2, err: 'e' }, 'm');
    bound.child!({ service: 's' }).warn({}, 'n');
    expect(lines).toEqual([
      { obj: { peer: 'p', connectionId: 2, err: 'e' }, msg: 'm' },
      { obj: { peer: 'p', connectionId: 1, service: 's' }, msg: 'n' },
    ]);
    expect(bound.info).toBeUndefined();
    const infos: unknown[] = [];
    withFields({ ...logger, info: (obj) => void infos.push(obj) }, { peer: 'p' }).info!({ a: 1 }, 'i');
    expect(infos).toEqual([{ peer: 'p', a: 1 }]);
  });

  it('its lines never throw, whatever the logger does', () => {
    const throwing: Logger = {
      warn: () => { throw new Error('disk full'); },
      error: () => { throw new Error('disk full'); },
      info: () => { throw new Error('disk full'); },
    };
    for (const logger of [throwing, { ...throwing, child: () => throwing }]) {
      const bound = withFields(logger, { peer: 'p' });
      expect(() => bound.warn({}, 'm')).not.toThrow();
      expect(() => bound.error({}, 'm')).not.toThrow();
      expect(() => bound.info!({}, 'm')).not.toThrow();
      expect(() => bound.child!({ a: 1 }).warn({}, 'm')).not.toThrow();
    }
  });

  it('falls back to merging when child() throws or returns something that is not a logger', () => {
    for (const child of [() => { throw new Error('no'); }, () => undefined, () => ({ warn: 1 })]) {
      const { logger, lines } = recorder(false);
      withFields({ ...logger, child: child as never }, { peer: 'p' }).warn({}, 'm');
      expect(lines).toEqual([{ obj: { peer: 'p' }, msg: 'm' }]);
    }
  });
});

describe('logErr', () => {
  it("keeps a HeartlineError; wraps anything else with its message and the error's own stack", () => {
    const h = new HeartlineError('TIMEOUT', 't');
    expect(logErr(h)).toBe(h);
    const plain = new TypeError('bad');
    expect([logErr(plain).code, logErr(plain).message, logErr(plain).stack]).toEqual(['HANDLER_ERROR', 'bad', plain.stack]);
    expect(logErr('text', 'UNAVAILABLE')).toMatchObject({ code: 'UNAVAILABLE', message: 'text' });
    const unreadable = { toString() { throw new Error('no'); } };
    expect(logErr(unreadable).message).toBe('an unreadable error');
  });
});
