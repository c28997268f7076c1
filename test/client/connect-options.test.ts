/** connect() refuses malformed options at once, before it dials anything. */
import { describe, expect, it } from 'vitest';
import { connect } from '../../src/client/connect.ts';

const SECRET = 'a secret of enough bytes';

describe('connect options', () => {
  it('INVALID_ARGUMENT for a secret that is not bytes or a string, and for a bad endpoint', async () => {
    // new Uint8Array(12345) would have been 12,345 zero bytes: a secret anyone can guess.
    await expect(connect({ endpoints: ['127.0.0.1:1'], secret: 12345 as never })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', message: expect.stringMatching(/string or a Uint8Array, got number/) });
    await expect(connect({ endpoints: ['127.0.0.1:1'], secret: 'short' })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    for (const bad of [{ host: '127.0.0.1', port: 70_000 }, { host: '127.0.0.1', port: Number.NaN }, { host: 7, port: 7001 }, { host: '127.0.0.1', port: 7001, id: 0 }, null]) {
      await expect(connect({ endpoints: [bad as never], secret: SECRET }), JSON.stringify(bad)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    }
  });
});
