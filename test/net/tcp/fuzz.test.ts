/**
 * Hostile bytes against everything that parses network input: the frame decoder, the message
 * codec and both handshake machines. Whatever arrives, the only permitted failure is a
 * TesseraError (which the network turns into closing that one connection); the work done is
 * bounded by the input, and nothing is allocated beyond the declared (and capped) frame.
 */
import fc from 'fast-check';
import { Packr } from 'msgpackr';
import { describe, expect, it } from 'vitest';
import { TesseraError, type TesseraErrorCode } from '../../../src/errors.ts';
import { FrameDecoder, encodeFrame } from '../../../src/net/tcp/frame.ts';
import { HANDSHAKE_MAX_FRAME_BYTES } from '../../../src/net/tcp/handshake-messages.ts';
import { ClientHandshake, ServerHandshake, type RandomBytes } from '../../../src/net/tcp/handshake.ts';
import { decodeMessage, encodeMessage } from '../../../src/net/tcp/message-codec.ts';
import { mutate, mutation, split, wireMessage } from './arbitraries.ts';

const RUNS = { seed: 42, numRuns: 400 };
const SECRET = new TextEncoder().encode('fuzzing secret, 32 bytes long...');

/** Runs f; returns the TesseraError code it threw, 'ok' if none; anything else fails the property. */
function outcome(f: () => void, allowed: readonly TesseraErrorCode[]): TesseraErrorCode | 'ok' {
  try {
    f();
    return 'ok';
  } catch (e) {
    if (!(e instanceof TesseraError)) throw new Error(`non-typed error escaped: ${String(e)}`, { cause: e });
    if (!allowed.includes(e.code)) throw new Error(`unexpected code ${e.code}: ${e.message}`);
    return e.code;
  }
}

function fixedRandom(fill: number): RandomBytes {
  return (n) => new Uint8Array(n).fill(fill);
}

const newServer = () => new ServerHandshake({ clusterId: 'c1', self: 2, secret: SECRET, isPeer: (id) => id === 1 || id === 3, randomBytes: fixedRandom(9) });
const newClient = () => new ClientHandshake({ clusterId: 'c1', self: 1, peer: 2, channel: 0, secret: SECRET, randomBytes: fixedRandom(5) });

/** A genuine client's bytes against newServer(), and the server's replies. */
function genuineTranscript(): { client: Uint8Array; server: Uint8Array } {
  const c = newClient();
  const s = newServer();
  const hello = c.start();
  const challenge = Buffer.concat(s.receive(hello).send);
  const response = Buffer.concat(c.receive(challenge).send);
  const welcome = Buffer.concat(s.receive(response).send);
  return { client: new Uint8Array(Buffer.concat([hello, response])), server: new Uint8Array(Buffer.concat([challenge, welcome])) };
}

describe('fuzz: frame decoder', () => {
  const maxFrame = 1024;

  const check = (input: Uint8Array, cuts: number[]) => {
    const d = new FrameDecoder(maxFrame);
    let payloadBytes = 0;
    outcome(() => {
      for (const chunk of split(input, cuts)) {
        d.push(chunk);
        for (let p = d.next(); p !== null; p = d.next()) {
          expect(p.byteLength).toBeLessThanOrEqual(maxFrame);
          payloadBytes += p.byteLength;
        }
        // Holds no more than was given to it.
        expect(d.bufferedBytes).toBeLessThanOrEqual(input.byteLength);
      }
    }, ['MESSAGE_TOO_LARGE']);
    expect(payloadBytes).toBeLessThanOrEqual(input.byteLength);
  };

  it('random bytes in random chunks: payloads or MESSAGE_TOO_LARGE, nothing else', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 3000 }), fc.array(fc.nat(), { maxLength: 8 }), check), RUNS);
  });

  it('mutated valid streams: payloads or MESSAGE_TOO_LARGE, nothing else', () => {
    const frames = fc.array(fc.uint8Array({ maxLength: 300 }), { maxLength: 6 }).map((ps) => new Uint8Array(Buffer.concat(ps.map((p) => encodeFrame(p)))));
    fc.assert(fc.property(frames, fc.array(mutation, { minLength: 1, maxLength: 4 }), fc.array(fc.nat(), { maxLength: 8 }), (s, ms, cuts) => check(mutate(s, ms), cuts)), RUNS);
  });
});

describe('fuzz: message codec', () => {
  /** A decoded message must be one the codec could have written: it survives a re-encode. */
  const checkDecode = (payload: Uint8Array) => {
    outcome(() => {
      const m = decodeMessage(payload);
      expect(decodeMessage(encodeMessage(m))).toEqual(m);
    }, ['PROTOCOL_ERROR']);
  };

  it('random bytes: PROTOCOL_ERROR or a well-formed message', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 2000 }), checkDecode), RUNS);
  });

  it('mutated valid messages: PROTOCOL_ERROR or a well-formed message', () => {
    fc.assert(fc.property(wireMessage, fc.array(mutation, { minLength: 1, maxLength: 4 }), (m, ms) => checkDecode(mutate(encodeMessage(m), ms))), RUNS);
  });

  it('arbitrary MessagePack values (valid encoding, wrong shape): PROTOCOL_ERROR or a well-formed message', () => {
    const packr = new Packr({ useRecords: false });
    fc.assert(
      fc.property(fc.oneof(fc.anything(), fc.array(fc.anything(), { minLength: 13, maxLength: 13 })), (v) => {
        let payload: Uint8Array;
        try {
          payload = packr.pack(v);
        } catch {
          return; // not encodable: not our concern
        }
        checkDecode(payload);
      }),
      RUNS,
    );
  });
});

describe('fuzz: handshake', () => {
  const serverCodes: TesseraErrorCode[] = ['PROTOCOL_ERROR', 'AUTH_FAILED', 'MESSAGE_TOO_LARGE'];

  it('random bytes to a server or a client: typed errors only, and never authenticated', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 2 * HANDSHAKE_MAX_FRAME_BYTES }), fc.array(fc.nat(), { maxLength: 6 }), (input, cuts) => {
        const s = newServer();
        const c = newClient();
        c.start();
        for (const machine of [s, c]) {
          outcome(() => {
            for (const chunk of split(input, cuts)) expect(machine.receive(chunk).done).toBeNull();
          }, serverCodes);
        }
      }),
      RUNS,
    );
  });

  it('mutated genuine transcripts: typed errors, or success only if the mutation left the frames intact', () => {
    const genuine = genuineTranscript();
    fc.assert(
      fc.property(fc.array(mutation, { minLength: 1, maxLength: 3 }), fc.array(fc.nat(), { maxLength: 6 }), fc.boolean(), (ms, cuts, mutateClient) => {
        if (mutateClient) {
          const input = mutate(genuine.client, ms);
          const s = newServer();
          outcome(() => {
            for (const chunk of split(input, cuts)) {
              const step = s.receive(chunk);
              // Authenticated only on the genuine bytes (possibly followed by extra, returned as rest).
              if (step.done) expect(Buffer.from(input.subarray(0, genuine.client.byteLength)).equals(Buffer.from(genuine.client))).toBe(true);
              if (step.done) break;
            }
          }, serverCodes);
        } else {
          const input = mutate(genuine.server, ms);
          const c = newClient();
          c.start();
          outcome(() => {
            for (const chunk of split(input, cuts)) {
              const step = c.receive(chunk);
              if (step.done) expect(Buffer.from(input.subarray(0, genuine.server.byteLength)).equals(Buffer.from(genuine.server))).toBe(true);
              if (step.done) break;
            }
          }, serverCodes);
        }
      }),
      RUNS,
    );
  });
});
