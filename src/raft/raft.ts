/**
 * The pure Raft state machine (after etcd-io/raft's raft.go). Values in (step, tick,
 * propose, readIndex, transferLeader), values out (ready). No I/O, timers, clocks or real
 * randomness: the election timeout jitter comes from the injected Random.
 */
import { TesseraError } from '../errors.ts';
import { MAX_ENTRY_BYTES } from '../limits.ts';
import type { Random } from '../node/ports.ts';
import { assert } from '../util/assert.ts';
import { type RaftConfig, leaseTicks } from './config.ts';
import { RaftLog, type StableLog } from './log.ts';
import { Progress } from './progress.ts';
import { type VoterConfig, allVoters, committedIndex, isQuorum, voteResult } from './quorum.ts';
import { ReadOnly } from './read-only.ts';
import {
  type ConfState,
  type Entry,
  EntryType,
  type HardState,
  type Message,
  type MessageType,
  NONE,
  type NodeId,
  type RaftRole,
  type ReadState,
  type Ready,
  type SoftState,
  entrySize,
  message,
} from './types.ts';

/** Marks vote requests sent on a leader's TimeoutNow, which must not be ignored by leased followers. */
const TRANSFER_CONTEXT = 'transfer';

export interface RaftStorage extends StableLog {
  initialState(): { hardState: HardState; snapshot: { index: number; term: number; conf: ConfState } };
}

export interface ProgressStatus {
  readonly match: number;
  readonly next: number;
  readonly state: string;
  readonly inflight: number;
  readonly recentActive: boolean;
}

export interface RaftStatus {
  readonly id: NodeId;
  readonly term: number;
  readonly vote: NodeId;
  readonly commit: number;
  readonly applied: number;
  readonly lastIndex: number;
  readonly role: RaftRole;
  readonly leader: NodeId;
  readonly leadTransferee: NodeId;
  readonly progress: ReadonlyMap<NodeId, ProgressStatus>;
}

export interface Proposed {
  readonly index: number;
  readonly term: number;
}

export class Raft {
  readonly id: NodeId;
  term = 0;
  vote: NodeId = NONE;
  role: RaftRole = 'follower';
  lead: NodeId = NONE;
  readonly log: RaftLog;

  private voters: VoterConfig;
  private learners: NodeId[];
  private progress = new Map<NodeId, Progress>();
  private readonly votes = new Map<NodeId, boolean>();
  private msgs: Message[] = [];
  private readStates: ReadState[] = [];
  private readonly readOnly = new ReadOnly();
  /** Read requests that arrived before this leader committed an entry of its term. */
  private pendingReads: Array<{ context: string; from: NodeId }> = [];

  private electionElapsed = 0;
  /** Leader ticks in the current term: the clock of heartbeat leases. */
  private leaderTicks = 0;
  /**
   * With lease reads, a restarted node refuses votes for an election timeout: it may have
   * acknowledged a heartbeat that a leader's lease still counts on just before it went down.
   */
  private startupLease: boolean;
  /** A TimeoutNow went out this term: its target may win an election that ignores leases. */
  private leaseForfeited = false;
  private heartbeatElapsed = 0;
  private randomizedElectionTimeout = 0;
  private leadTransferee: NodeId = NONE;
  private uncommittedBytes = 0;
  /** Proposals arrived since the last Ready: broadcast once, so they travel in one append. */
  private appendPending = false;

  private prevSoft: SoftState;
  private prevHard: HardState;

  constructor(
    private readonly cfg: RaftConfig,
    storage: RaftStorage,
    private readonly random: Random,
  ) {
    this.id = cfg.id;
    const init = storage.initialState();
    // A node that never saw a term has acknowledged no leader's heartbeat: nothing to protect.
    this.startupLease = cfg.leaseReads !== null && init.hardState.term > 0;
    const conf = init.snapshot.conf.voters.length > 0 ? init.snapshot.conf : { voters: cfg.voters, learners: [] };
    this.voters = { incoming: [...conf.voters].sort((a, b) => a - b), outgoing: [] };
    this.learners = [...conf.learners].sort((a, b) => a - b);
    this.log = new RaftLog(storage, init.hardState.commit, cfg.applied);
    this.term = init.hardState.term;
    this.vote = init.hardState.vote;
    this.becomeFollower(this.term, NONE);
    this.prevSoft = { leader: this.lead, role: this.role };
    this.prevHard = this.hardState();
  }

  // --- inputs ---

  tick(): void {
    if (this.role === 'leader') this.tickHeartbeat();
    else this.tickElection();
  }

  /** Starts an election now (as if the election timeout fired). */
  campaignNow(): void {
    this.hup(false);
  }

  propose(data: Uint8Array): Proposed {
    if (this.role !== 'leader') {
      throw this.lead === NONE
        ? new TesseraError('NO_LEADER', `node ${this.id} knows no leader in term ${this.term}`)
        : new TesseraError('NOT_LEADER', `node ${this.id} is not the leader`, { leaderHint: this.lead });
    }
    if (this.leadTransferee !== NONE) {
      throw new TesseraError('PROPOSAL_DROPPED', `leadership is being transferred to ${this.leadTransferee}`);
    }
    if (data.byteLength > MAX_ENTRY_BYTES) {
      throw new TesseraError('ENTRY_TOO_LARGE', `entry of ${data.byteLength} bytes exceeds ${MAX_ENTRY_BYTES}`);
    }
    const size = data.byteLength;
    // A single entry larger than the limit is still accepted when nothing is pending, so it cannot starve.
    if (this.uncommittedBytes > 0 && this.uncommittedBytes + size > this.cfg.maxUncommittedBytes) {
      throw new TesseraError('UNCOMMITTED_LIMIT', `${this.uncommittedBytes} uncommitted bytes; limit ${this.cfg.maxUncommittedBytes}`);
    }
    const entry: Entry = { term: this.term, index: this.log.lastIndex() + 1, type: EntryType.Normal, data };
    this.appendEntries([entry]);
    this.uncommittedBytes += size;
    this.appendPending = true;
    return { index: entry.index, term: entry.term };
  }

  /**
   * Requests a linearizable read point. The answer arrives as a ReadState carrying `context`
   * in a later Ready (or a 'readIndexResp' that becomes one on a follower).
   */
  readIndex(context: string): void {
    if (this.role === 'leader') {
      this.leaderReadIndex(context, this.id);
      return;
    }
    if (this.lead === NONE) throw new TesseraError('NO_LEADER', `node ${this.id} knows no leader for a read`);
    this.send(message({ type: 'readIndex', from: this.id, to: this.lead, term: this.term, context }));
  }

  /**
   * A read point without a heartbeat round while the leader's lease holds (config.leaseReads);
   * otherwise this is an ordinary ReadIndex. The answer arrives as a ReadState, as for readIndex.
   */
  leaseRead(context: string): void {
    if (this.cfg.leaseReads === null) throw new TesseraError('INVALID_ARGUMENT', 'lease reads are not enabled (config.leaseReads)');
    if (this.role === 'leader' && this.leaseValid() && this.committedInTerm()) {
      this.readStates.push({ index: this.log.committed, context });
      return;
    }
    this.readIndex(context);
  }

  /** True while a quorum acknowledged a heartbeat sent recently enough that no rival leader can exist. */
  leaseValid(): boolean {
    if (this.role !== 'leader' || this.cfg.leaseReads === null || this.leadTransferee !== NONE || this.leaseForfeited) return false;
    const start = committedIndex(this.voters, (id) => (id === this.id ? this.leaderTicks : (this.progress.get(id)?.leaseAck ?? -1)));
    return start >= 0 && this.leaderTicks < start + leaseTicks(this.cfg);
  }

  private inLease(): boolean {
    if (!this.cfg.checkQuorum || this.electionElapsed >= this.cfg.electionTick) return false;
    return this.lead !== NONE || this.startupLease;
  }

  transferLeader(to: NodeId): void {
    if (this.role !== 'leader') {
      throw new TesseraError('NOT_LEADER', `node ${this.id} cannot transfer leadership`, { leaderHint: this.lead });
    }
    const pr = this.progress.get(to);
    if (!pr || pr.isLearner) throw new TesseraError('INVALID_ARGUMENT', `transfer target ${to} is not a voter`);
    if (to === this.id || this.leadTransferee === to) return;
    this.leadTransferee = to;
    // The transfer must finish within one election timeout or it is abandoned.
    this.electionElapsed = 0;
    if (pr.match === this.log.lastIndex()) this.sendTimeoutNow(to);
    else this.sendAppend(to);
  }

  step(m: Message): void {
    if (m.type === 'snapStatus' || m.type === 'unreachable') {
      this.stepLocal(m);
      return;
    }
    if (m.term > this.term) {
      if (m.type === 'vote' || m.type === 'preVote') {
        const force = m.context === TRANSFER_CONTEXT;
        const inLease = this.inLease();
        // A follower that hears a live leader ignores campaigns: a partitioned node cannot depose it.
        if (!force && inLease) return;
      }
      if (m.type === 'preVote') {
        // A pre-vote never changes our term.
      } else if (m.type === 'preVoteResp' && !m.reject) {
        // Granted pre-votes carry the future term; the term moves only when the real campaign starts.
      } else if (m.type === 'app' || m.type === 'heartbeat' || m.type === 'snap') {
        this.becomeFollower(m.term, m.from);
      } else {
        this.becomeFollower(m.term, NONE);
      }
    } else if (m.term < this.term) {
      if ((this.cfg.checkQuorum || this.cfg.preVote) && (m.type === 'heartbeat' || m.type === 'app')) {
        // A stale leader (for instance one healed after a partition) learns the new term from this and steps down.
        this.send(message({ type: 'appResp', from: this.id, to: m.from, term: this.term }));
      } else if (m.type === 'preVote') {
        this.send(message({ type: 'preVoteResp', from: this.id, to: m.from, term: this.term, reject: true }));
      }
      return;
    }

    if (m.type === 'vote' || m.type === 'preVote') {
      this.handleVoteRequest(m);
      return;
    }
    switch (this.role) {
      case 'leader':
        this.stepLeader(m);
        break;
      case 'candidate':
      case 'preCandidate':
        this.stepCandidate(m);
        break;
      case 'follower':
        this.stepFollower(m);
        break;
    }
  }

  // --- outputs ---

  hasReady(): boolean {
    return (
      this.appendPending ||
      this.msgs.length > 0 ||
      this.readStates.length > 0 ||
      this.log.hasUnstableToPersist() ||
      this.log.hasNextCommitted() ||
      this.softChanged() ||
      !sameHardState(this.hardState(), this.prevHard)
    );
  }

  ready(): Ready {
    this.flushAppends();
    const hs = this.hardState();
    const committed = this.log.nextCommitted(this.cfg.maxCommittedBytesPerReady);
    const rd: Ready = {
      softState: this.softChanged() ? { leader: this.lead, role: this.role } : null,
      hardState: sameHardState(hs, this.prevHard) ? null : hs,
      entries: this.log.unstableToPersist(),
      snapshot: this.log.snapshotToPersist(),
      messages: this.msgs,
      committed,
      readStates: this.readStates,
    };
    this.log.markInProgress();
    const last = committed[committed.length - 1];
    if (last) this.log.acceptApplying(last.index);
    this.msgs = [];
    this.readStates = [];
    if (rd.softState) this.prevSoft = rd.softState;
    if (rd.hardState) this.prevHard = rd.hardState;
    return rd;
  }

  /** The runtime persisted, sent and applied everything in `rd`. */
  advance(rd: Ready): void {
    const lastEntry = rd.entries[rd.entries.length - 1];
    if (lastEntry) this.log.stableTo(lastEntry.index, lastEntry.term);
    if (lastEntry && this.role === 'leader') {
      const self = this.progress.get(this.id);
      if (self?.maybeUpdate(this.log.persistedLastIndex()) && this.maybeCommit()) this.bcastAppend();
    }
    if (rd.snapshot) {
      this.log.stableSnapTo(rd.snapshot.meta.index);
      this.log.appliedSnapshot(rd.snapshot.meta.index);
    }
    const lastCommitted = rd.committed[rd.committed.length - 1];
    if (lastCommitted) {
      this.log.appliedTo(lastCommitted.index);
      if (this.role === 'leader') {
        let freed = 0;
        for (const e of rd.committed) if (e.type === EntryType.Normal && e.term === this.term) freed += e.data.byteLength;
        this.uncommittedBytes = Math.max(0, this.uncommittedBytes - freed);
      }
    }
  }

  confState(): ConfState {
    return { voters: [...this.voters.incoming], learners: [...this.learners] };
  }

  hardState(): HardState {
    return { term: this.term, vote: this.vote, commit: this.log.committed };
  }

  status(): RaftStatus {
    const progress = new Map<NodeId, ProgressStatus>();
    if (this.role === 'leader') {
      for (const [id, pr] of this.progress) {
        progress.set(id, { match: pr.match, next: pr.next, state: pr.state, inflight: pr.inflights.count, recentActive: pr.recentActive });
      }
    }
    return {
      id: this.id,
      term: this.term,
      vote: this.vote,
      commit: this.log.committed,
      applied: this.log.applied,
      lastIndex: this.log.lastIndex(),
      role: this.role,
      leader: this.lead,
      leadTransferee: this.leadTransferee,
      progress,
    };
  }

  // --- role transitions ---

  private reset(term: number): void {
    assert(term >= this.term, () => `term regresses from ${this.term} to ${term}`);
    if (term !== this.term) {
      this.term = term;
      this.vote = NONE;
    }
    this.lead = NONE;
    this.electionElapsed = 0;
    this.heartbeatElapsed = 0;
    // In [T+1, 2T+1): one tick past the check-quorum lease, so peers whose tick phase lags ours by
    // less than a tick are already out of their lease when our pre-vote arrives, and do not ignore it.
    this.randomizedElectionTimeout = this.cfg.electionTick + 1 + this.random.nextInt(this.cfg.electionTick);
    this.leadTransferee = NONE;
    this.votes.clear();
    this.readOnly.reset();
    this.pendingReads = [];
    this.uncommittedBytes = 0;
    this.appendPending = false;
    const last = this.log.lastIndex();
    this.progress = new Map();
    for (const id of allVoters(this.voters)) this.progress.set(id, this.newProgress(last, false));
    for (const id of this.learners) this.progress.set(id, this.newProgress(last, true));
    // A node counts toward commit only what it has persisted (its runtime may send before persisting).
    const self = this.progress.get(this.id);
    if (self) self.match = this.log.persistedLastIndex();
  }

  private newProgress(last: number, learner: boolean): Progress {
    return new Progress(last + 1, this.cfg.maxInflightMsgs, this.cfg.maxInflightBytes, learner);
  }

  private becomeFollower(term: number, lead: NodeId): void {
    this.reset(term);
    this.role = 'follower';
    this.lead = lead;
  }

  private becomePreCandidate(): void {
    assert(this.role !== 'leader', 'a leader cannot become a pre-candidate');
    // Term and vote stay: a pre-election is a poll, not a campaign.
    this.role = 'preCandidate';
    this.votes.clear();
    this.lead = NONE;
  }

  private becomeCandidate(): void {
    assert(this.role !== 'leader', 'a leader cannot become a candidate');
    this.reset(this.term + 1);
    this.vote = this.id;
    this.role = 'candidate';
  }

  private becomeLeader(): void {
    assert(this.role === 'candidate', () => `only a candidate becomes leader (was ${this.role})`);
    this.reset(this.term);
    this.lead = this.id;
    this.role = 'leader';
    this.leaderTicks = 0;
    this.startupLease = false;
    this.leaseForfeited = false;
    const self = this.progress.get(this.id);
    assert(self !== undefined, 'a leader must be a voter');
    self.becomeReplicate();
    self.recentActive = true;
    // The empty entry lets this leader commit entries of earlier terms (§5.4.2) and learn its read point.
    this.appendEntries([{ term: this.term, index: this.log.lastIndex() + 1, type: EntryType.Empty, data: new Uint8Array(0) }]);
    this.appendPending = true;
  }

  private promotable(): boolean {
    return allVoters(this.voters).includes(this.id);
  }

  private hup(transfer: boolean): void {
    if (this.role === 'leader' || !this.promotable()) return;
    if (this.cfg.preVote && !transfer) this.campaign('preVote', false);
    else this.campaign('vote', transfer);
  }

  private campaign(kind: 'preVote' | 'vote', transfer: boolean): void {
    let term: number;
    if (kind === 'preVote') {
      this.becomePreCandidate();
      term = this.term + 1;
    } else {
      this.becomeCandidate();
      term = this.term;
    }
    if (this.poll(this.id, true) === 'won') {
      // A single-voter cluster wins at once.
      if (kind === 'preVote') this.campaign('vote', transfer);
      else this.becomeLeader();
      return;
    }
    const lastIndex = this.log.lastIndex();
    const lastTerm = this.log.lastTerm();
    for (const id of allVoters(this.voters)) {
      if (id === this.id) continue;
      this.send(
        message({ type: kind, from: this.id, to: id, term, index: lastIndex, logTerm: lastTerm, context: transfer ? TRANSFER_CONTEXT : '' }),
      );
    }
  }

  private poll(from: NodeId, granted: boolean) {
    if (!this.votes.has(from)) this.votes.set(from, granted);
    return voteResult(this.voters, this.votes);
  }

  private handleVoteRequest(m: Message): void {
    const respType: MessageType = m.type === 'vote' ? 'voteResp' : 'preVoteResp';
    const canVote =
      this.vote === m.from ||
      (this.vote === NONE && this.lead === NONE) ||
      // A pre-vote for a future term may be granted even though we voted in this one.
      (m.type === 'preVote' && m.term > this.term);
    if (canVote && this.log.isUpToDate(m.index, m.logTerm)) {
      this.send(message({ type: respType, from: this.id, to: m.from, term: m.term }));
      if (m.type === 'vote') {
        assert(this.vote === NONE || this.vote === m.from, () => `node ${this.id} votes twice in term ${this.term}`);
        this.electionElapsed = 0;
        this.vote = m.from;
      } else if (this.role === 'follower') {
        // We agree the leader is gone: give the pre-candidate a head start instead of campaigning
        // against it a few milliseconds later and splitting the vote. Forgetting the leader keeps
        // us from ignoring its real vote request as if we were still in the old leader's lease.
        this.electionElapsed = 0;
        this.lead = NONE;
      }
    } else {
      this.send(message({ type: respType, from: this.id, to: m.from, term: this.term, reject: true }));
    }
  }

  // --- ticks ---

  private tickElection(): void {
    this.electionElapsed++;
    if (this.electionElapsed >= this.cfg.electionTick) this.startupLease = false;
    if (this.promotable() && this.electionElapsed >= this.randomizedElectionTimeout) {
      this.electionElapsed = 0;
      this.hup(false);
    }
  }

  private tickHeartbeat(): void {
    this.leaderTicks++;
    this.heartbeatElapsed++;
    this.electionElapsed++;
    if (this.electionElapsed >= this.cfg.electionTick) {
      this.electionElapsed = 0;
      if (this.cfg.checkQuorum && !this.checkQuorumActive()) {
        this.becomeFollower(this.term, NONE);
        return;
      }
      this.leadTransferee = NONE; // an unfinished transfer is abandoned after one election timeout
    }
    this.retryLostSnapshots();
    if (this.heartbeatElapsed >= this.cfg.heartbeatTick) {
      this.heartbeatElapsed = 0;
      this.bcastHeartbeat(this.readOnly.lastPendingContext());
    }
  }

  /**
   * The transport may lose a snapshot without telling us. One not acknowledged within an
   * election timeout is treated as failed, so the follower is probed (and sent one) again.
   */
  private retryLostSnapshots(): void {
    for (const pr of this.progress.values()) {
      if (pr.state !== 'snapshot' || ++pr.snapshotElapsed < this.cfg.electionTick) continue;
      pr.pendingSnapshot = 0;
      pr.becomeProbe();
    }
  }

  /** Check-quorum: a leader that has not heard from a quorum for an election timeout steps down. */
  private checkQuorumActive(): boolean {
    const active = isQuorum(this.voters, (id) => id === this.id || this.progress.get(id)?.recentActive === true);
    for (const [id, pr] of this.progress) if (id !== this.id) pr.recentActive = false;
    return active;
  }

  // --- per-role message handling ---

  private stepLeader(m: Message): void {
    switch (m.type) {
      case 'readIndex':
        this.leaderReadIndex(m.context, m.from);
        return;
      case 'app':
      case 'heartbeat':
      case 'snap':
        assert(false, () => `leader ${this.id} got ${m.type} from ${m.from} in its own term ${this.term}: two leaders`);
        return;
    }
    const pr = this.progress.get(m.from);
    if (!pr) return;
    switch (m.type) {
      case 'appResp':
        pr.recentActive = true;
        this.handleAppendResponse(m, pr);
        break;
      case 'heartbeatResp':
        this.handleHeartbeatResponse(m, pr);
        break;
      default:
        break; // votes for a finished election, stale pre-vote answers, timeoutNow: nothing to do
    }
  }

  private handleAppendResponse(m: Message, pr: Progress): void {
    if (m.reject) {
      let nextProbe = m.rejectHint;
      if (m.logTerm > 0) nextProbe = this.log.findConflictByTerm(m.rejectHint, m.logTerm)[0];
      if (pr.maybeDecrTo(m.index, nextProbe)) {
        if (pr.state === 'replicate') pr.becomeProbe();
        this.sendAppend(m.from);
      }
      return;
    }
    const wasPaused = pr.isPaused();
    if (!pr.maybeUpdate(m.index)) {
      if (wasPaused && !pr.isPaused()) this.sendAppend(m.from);
      return;
    }
    if (pr.state === 'probe') {
      pr.becomeReplicate();
    } else if (pr.state === 'snapshot' && pr.match + 1 >= this.log.firstIndex()) {
      // The snapshot (or a later append) caught the follower up: resume normal replication.
      pr.becomeProbe();
      pr.becomeReplicate();
    } else if (pr.state === 'replicate') {
      pr.inflights.freeLE(m.index);
    }
    if (this.maybeCommit()) {
      this.bcastAppend();
    } else if (wasPaused) {
      this.sendAppend(m.from);
    }
    while (this.maybeSendAppend(m.from, false)) {
      // keep filling the window
    }
    if (m.from === this.leadTransferee && pr.match === this.log.lastIndex()) this.sendTimeoutNow(m.from);
  }

  private handleHeartbeatResponse(m: Message, pr: Progress): void {
    pr.recentActive = true;
    if (m.index > pr.leaseAck) pr.leaseAck = m.index;
    pr.probeSent = false;
    // A full window whose appends were all lost would never drain: the follower answers
    // heartbeats but has nothing to acknowledge. Free one slot so an append goes out; if the
    // follower lacks what precedes it, its rejection moves us back to probing (as etcd does).
    if (pr.state === 'replicate' && pr.inflights.full()) pr.inflights.freeFirstOne();
    if (pr.match < this.log.lastIndex()) this.sendAppend(m.from);
    if (m.context === '') return;
    const acks = this.readOnly.recvAck(m.from, m.context);
    if (!acks) return;
    if (!isQuorum(this.voters, (id) => id === this.id || acks.has(id))) return;
    for (const req of this.readOnly.advance(m.context)) this.answerRead(req.context, req.index, req.from);
  }

  private stepLocal(m: Message): void {
    if (this.role !== 'leader') return;
    const pr = this.progress.get(m.from);
    if (!pr) return;
    if (m.type === 'snapStatus') {
      if (pr.state !== 'snapshot') return;
      if (m.reject) pr.pendingSnapshot = 0;
      pr.becomeProbe();
      // Wait for the follower's answer (or a heartbeat) before probing again.
      pr.probeSent = true;
    } else if (m.type === 'unreachable' && pr.state === 'replicate') {
      pr.becomeProbe();
    }
  }

  private stepCandidate(m: Message): void {
    const myResp: MessageType = this.role === 'preCandidate' ? 'preVoteResp' : 'voteResp';
    switch (m.type) {
      case 'app':
        this.becomeFollower(m.term, m.from);
        this.handleAppend(m);
        return;
      case 'heartbeat':
        this.becomeFollower(m.term, m.from);
        this.handleHeartbeat(m);
        return;
      case 'snap':
        this.becomeFollower(m.term, m.from);
        this.handleSnapshot(m);
        return;
      default:
        break;
    }
    if (m.type !== myResp) return;
    const outcome = this.poll(m.from, !m.reject);
    if (outcome === 'won') {
      if (this.role === 'preCandidate') {
        this.campaign('vote', false);
      } else {
        this.becomeLeader();
        this.flushAppends();
      }
    } else if (outcome === 'lost') {
      this.becomeFollower(this.term, NONE);
    }
  }

  private stepFollower(m: Message): void {
    switch (m.type) {
      case 'app':
        this.electionElapsed = 0;
        this.lead = m.from;
        this.handleAppend(m);
        break;
      case 'heartbeat':
        this.electionElapsed = 0;
        this.lead = m.from;
        this.handleHeartbeat(m);
        break;
      case 'snap':
        this.electionElapsed = 0;
        this.lead = m.from;
        this.handleSnapshot(m);
        break;
      case 'timeoutNow':
        // Leader transfer: campaign at once, skipping pre-vote, and make leased voters listen.
        this.hup(true);
        break;
      case 'readIndexResp':
        this.readStates.push({ index: m.index, context: m.context });
        break;
      default:
        break;
    }
  }

  private handleAppend(m: Message): void {
    if (m.index < this.log.committed) {
      this.send(message({ type: 'appResp', from: this.id, to: m.from, term: this.term, index: this.log.committed }));
      return;
    }
    const lastNew = this.log.maybeAppend(m.index, m.logTerm, m.commit, m.entries);
    if (lastNew !== null) {
      this.send(message({ type: 'appResp', from: this.id, to: m.from, term: this.term, index: lastNew }));
      return;
    }
    const hint = Math.min(m.index, this.log.lastIndex());
    const [hintIndex, hintTerm] = this.log.findConflictByTerm(hint, m.logTerm);
    this.send(
      message({ type: 'appResp', from: this.id, to: m.from, term: this.term, index: m.index, reject: true, rejectHint: hintIndex, logTerm: hintTerm }),
    );
  }

  private handleHeartbeat(m: Message): void {
    this.log.commitTo(m.commit);
    // Echo the leader's send tick: it dates the lease our acknowledgement extends.
    this.send(message({ type: 'heartbeatResp', from: this.id, to: m.from, term: this.term, index: m.index, context: m.context }));
  }

  private handleSnapshot(m: Message): void {
    const snap = m.snapshot;
    assert(snap !== null, 'snap message without a snapshot');
    const s = snap.meta;
    if (s.index <= this.log.committed) {
      this.send(message({ type: 'appResp', from: this.id, to: m.from, term: this.term, index: this.log.committed }));
      return;
    }
    if (this.log.matchTerm(s.index, s.term)) {
      // We already hold the entries the snapshot covers: just fast-forward the commit.
      this.log.commitTo(s.index);
    } else {
      this.log.restore(snap);
      this.voters = { incoming: [...s.conf.voters].sort((a, b) => a - b), outgoing: [] };
      this.learners = [...s.conf.learners].sort((a, b) => a - b);
    }
    this.send(message({ type: 'appResp', from: this.id, to: m.from, term: this.term, index: this.log.lastIndex() }));
  }

  // --- leader machinery ---

  private appendEntries(ents: Entry[]): void {
    // The leader's own copy counts toward commit once persisted (advance), not now: the runtime
    // may send these entries to followers while it is still writing them (thesis §10.2.1).
    this.log.append(ents);
  }

  private flushAppends(): void {
    if (!this.appendPending) return;
    this.appendPending = false;
    if (this.role === 'leader') this.bcastAppend();
  }

  private maybeCommit(): boolean {
    const idx = committedIndex(this.voters, (id) => this.progress.get(id)?.match ?? 0);
    const advanced = this.log.maybeCommit(idx, this.term);
    if (advanced && this.pendingReads.length > 0 && this.committedInTerm()) {
      const reads = this.pendingReads;
      this.pendingReads = [];
      for (const r of reads) this.leaderReadIndex(r.context, r.from);
    }
    return advanced;
  }

  private committedInTerm(): boolean {
    return this.log.term(this.log.committed) === this.term;
  }

  private bcastAppend(): void {
    for (const id of this.progress.keys()) if (id !== this.id) this.sendAppend(id);
  }

  private bcastHeartbeat(context: string): void {
    for (const [id, pr] of this.progress) {
      if (id === this.id) continue;
      // Never tell a follower to commit past what it is known to hold.
      const commit = Math.min(pr.match, this.log.committed);
      this.send(message({ type: 'heartbeat', from: this.id, to: id, term: this.term, commit, context, index: this.leaderTicks }));
    }
  }

  private sendAppend(to: NodeId): void {
    this.maybeSendAppend(to, true);
  }

  /** Sends the next append (or a snapshot) to `to` if its progress allows. Returns whether a message went out. */
  private maybeSendAppend(to: NodeId, sendIfEmpty: boolean): boolean {
    const pr = this.progress.get(to);
    if (!pr || pr.isPaused()) return false;
    const prevIndex = pr.next - 1;
    const last = this.log.lastIndex();
    assert(prevIndex <= last, () => `follower ${to} is at ${pr.next}, beyond the leader's last index ${last}`);
    const prevTerm = this.log.term(prevIndex);
    if (prevTerm === null || pr.next < this.log.firstIndex()) return this.sendSnapshot(to, pr);
    const ents = pr.next <= last ? this.log.entries(pr.next, last + 1, this.cfg.maxSizePerMsg) : [];
    if (ents.length === 0 && !sendIfEmpty) return false;
    let bytes = 0;
    for (const e of ents) bytes += entrySize(e);
    this.send(
      message({ type: 'app', from: this.id, to, term: this.term, index: prevIndex, logTerm: prevTerm, entries: ents, commit: this.log.committed }),
    );
    pr.sentEntries(prevIndex + ents.length, ents.length, bytes);
    return true;
  }

  private sendSnapshot(to: NodeId, pr: Progress): boolean {
    if (!pr.recentActive) return false; // do not ship a snapshot to a node that may be down
    const snap = this.log.snapshot();
    assert(snap !== null, () => `follower ${to} needs index ${pr.next} but the log was compacted without a snapshot`);
    pr.becomeSnapshot(snap.meta.index);
    this.send(message({ type: 'snap', from: this.id, to, term: this.term, snapshot: snap }));
    return true;
  }

  private sendTimeoutNow(to: NodeId): void {
    this.leaseForfeited = true;
    this.send(message({ type: 'timeoutNow', from: this.id, to, term: this.term }));
  }

  private leaderReadIndex(context: string, from: NodeId): void {
    if (allVoters(this.voters).length === 1) {
      this.answerRead(context, this.log.committed, from);
      return;
    }
    if (!this.committedInTerm()) {
      // Our commit index is only a safe read point once an entry of this term is committed.
      this.pendingReads.push({ context, from });
      return;
    }
    this.readOnly.add(this.log.committed, context, from);
    this.readOnly.recvAck(this.id, context);
    this.bcastHeartbeat(context);
  }

  private answerRead(context: string, index: number, from: NodeId): void {
    if (from === this.id) this.readStates.push({ index, context });
    else this.send(message({ type: 'readIndexResp', from: this.id, to: from, term: this.term, index, context }));
  }

  private send(m: Message): void {
    assert(m.to !== this.id, 'a node never sends to itself');
    this.msgs.push(m);
  }

  private softChanged(): boolean {
    return this.prevSoft.leader !== this.lead || this.prevSoft.role !== this.role;
  }
}

function sameHardState(a: HardState, b: HardState): boolean {
  return a.term === b.term && a.vote === b.vote && a.commit === b.commit;
}
