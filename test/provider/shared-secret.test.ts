import { describe, expect, it } from 'vitest';
import { sharedSecret } from '../../src/index.js';
import { expectThrowCode } from '../helpers/server.js';

const peer = { address: '127.0.0.1:1' };

describe('sharedSecret', () => {
  it('accepts exactly the secret, with the principal given (default "shared-secret")', () => {
    expect(sharedSecret('s3cret', { team: 'a' })({ credentials: 's3cret' }, peer)).toEqual({ principal: { team: 'a' } });
    expect(sharedSecret('s3cret')({ credentials: 's3cret' }, peer)).toEqual({ principal: 'shared-secret' });
  });

  it('refuses anything else with UNAUTHENTICATED and a message that quotes nothing: none, empty, prefix, longer, case', () => {
    const check = sharedSecret('s3cret');
    for (const credentials of [undefined, '', 's3cre', 's3cret!', 'S3CRET', 's3cret\0']) {
      const err = expectThrowCode(() => check({ credentials }, peer), 'UNAUTHENTICATED');
      expect(err.message).toBe('authentication failed');
    }
  });

  it('an empty or non-string secret is a configuration error', () => {
    expectThrowCode(() => sharedSecret(''), 'INVALID_CONFIG');
    expectThrowCode(() => sharedSecret(5 as unknown as string), 'INVALID_CONFIG');
  });
});
