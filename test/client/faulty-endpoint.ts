/** An Endpoint wrapper whose propose can be intercepted, to lose answers or stop nodes mid-write. */
import type { Endpoint } from '../../src/client/endpoint.ts';
import type { KvApplyResult } from '../../src/store/kv-state-machine.ts';

export type ProposeHook = (inner: Endpoint, command: Uint8Array) => Promise<KvApplyResult>;

export class FaultyEndpoint implements Endpoint {
  /** Replaced per test; null: pass through. */
  hook: ProposeHook | null = null;
  proposals = 0;
  /** Pretend not to know the leader (as a remote endpoint before its first answer). */
  hideLeaderHint = false;

  constructor(readonly inner: Endpoint) {}

  get id() {
    return this.inner.id;
  }
  isUp() {
    return this.inner.isUp();
  }
  leaderHint() {
    return this.hideLeaderHint ? 0 : this.inner.leaderHint();
  }
  propose(command: Uint8Array) {
    this.proposals++;
    const hook = this.hook;
    return hook ? hook(this.inner, command) : this.inner.propose(command);
  }
  readBarrier() {
    return this.inner.readBarrier();
  }
  leaseReadBarrier() {
    return this.inner.leaseReadBarrier();
  }
  get(key: Uint8Array) {
    return this.inner.get(key);
  }
  range(...a: Parameters<Endpoint['range']>) {
    return this.inner.range(...a);
  }
  events(...a: Parameters<Endpoint['events']>) {
    return this.inner.events(...a);
  }
  readTable(...a: Parameters<Endpoint['readTable']>) {
    return this.inner.readTable(...a);
  }
  waitApplied(after: number, timeoutMs: number) {
    return this.inner.waitApplied(after, timeoutMs);
  }
}

/** A promise that never settles: an answer lost on the way back. */
export const lost = <T>(): Promise<T> => new Promise<T>(() => {});
