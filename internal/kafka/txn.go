package kafka

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/aiorch/litewavemetric/internal/usage"
)

// Transactions makes delivery exactly-once for read_committed consumers:
// each transaction carries whole Sends and a checkpoint record, usage is
// delivered only once the commit is acknowledged, and a restart fences the
// dead process (aborting its open transaction) and reads the latest
// committed checkpoint back, so that what a committed transaction holds is
// never produced again.
type Transactions struct {
	ID              string        // the transactional id, stored in the spool
	CheckpointTopic string        // compacted; checkpoints go to its partition 0
	Timeout         time.Duration // the transaction timeout
	// Held are the ids of the events the spool held at start; the first
	// transaction is preceded by a read-back of the checkpoint that finds
	// which of them are already delivered. Empty: nothing to recover.
	Held []usage.ID
	// Mark is what Backend.Mark returned at the spool's last commit.
	Mark []byte
}

// Limits of one transaction. Its checkpoint lists its events and those
// delivered earlier that the spool may still hold, 16 bytes each: this
// keeps it within a 1 MiB record, Kafka's default limit.
const (
	maxTxnEvents    = 16 << 10
	maxUnconfirmed  = 32 << 10
	recoveryTimeout = 30 * time.Second
	// fenceWindow: a second fence this soon after one means another
	// process holds the id. A transaction that outlives its timeout is
	// fenced too, but that is rare; two exporters taking the id from each
	// other at each collection are fenced every interval.
	fenceWindow = 10 * time.Minute
)

const transactionsFix = "grant this client WRITE and DESCRIBE on its transactional id and WRITE on the checkpoint topic, " +
	"or set LITEWAVE_KAFKA_TRANSACTIONS=false (WithKafkaTransactions(KafkaTransactions{Off: true})) to produce without transactions, consumers deduplicating by key"

// sendReq is one Send waiting for the transaction that carries it.
type sendReq struct {
	ctx   context.Context
	batch []usage.Event
	out   []usage.Outcome
	done  chan struct{} // closed when every out[i] is set
}

// txnLoop runs one transaction at a time, each carrying every Send queued
// while the previous one ran: a franz-go client holds one transaction, and
// EndTransaction flushes everything buffered, so concurrent workers share
// transactions rather than each running its own (group commit).
type txnLoop struct {
	b      *Backend
	cfg    Transactions
	opts   []kgo.Opt // the producer's, to make a new client after a fence
	base   []kgo.Opt // without a producer's, for the read-back's consumer
	logger *slog.Logger

	ctx    context.Context // ended by Close
	cancel context.CancelFunc
	wake   chan struct{}
	done   chan struct{} // closed when the loop has returned

	mu             sync.Mutex
	queue          []*sendReq
	closed         bool
	unconfirmed    map[usage.ID]struct{} // delivered, perhaps still in the spool
	lastCheckpoint int64                 // offset of the latest committed checkpoint known; -1: none
	stats          TxnStats

	// Owned by the loop.
	cl           *kgo.Client // nil: make one before the next transaction
	needRecovery bool
	held         map[usage.ID]struct{}
	recovered    map[usage.ID]struct{} // committed before: answered without producing
	lastNonce    uint64                // the latest committed checkpoint's
	nonce        uint64
	lastFence    time.Time // when the producer was last fenced
	blocked      error     // another process holds the id: set, nothing more is tried
	// recoveredAnswer is the answer for an event found delivered.
	recoveredAnswer []byte
}

// TxnStats counts the transactions of a backend.
type TxnStats struct {
	Transactions int64 // committed
	Records      int64 // usage records they carried
	Aborted      int64
	Recoveries   []Recovery
}

func newTxnLoop(b *Backend, cfg Transactions, opts, base []kgo.Opt, logger *slog.Logger) *txnLoop {
	ctx, cancel := context.WithCancel(context.Background())
	t := &txnLoop{
		b: b, cfg: cfg, opts: opts, base: base, logger: logger,
		ctx: ctx, cancel: cancel, wake: make(chan struct{}, 1), done: make(chan struct{}),
		unconfirmed:    map[usage.ID]struct{}{},
		lastCheckpoint: decodeMark(cfg.Mark),
		needRecovery:   len(cfg.Held) > 0,
	}
	t.recoveredAnswer = append(usage.AppendString([]byte(`{"topic":`), b.topic), `,"recovered":true}`...)
	if t.needRecovery {
		t.held = make(map[usage.ID]struct{}, len(cfg.Held))
		for _, id := range cfg.Held {
			t.held[id] = struct{}{}
		}
	}
	var n [8]byte
	_, _ = rand.Read(n[:])
	t.nonce = binary.BigEndian.Uint64(n[:])
	go t.run()
	return t
}

// send queues a Send and waits for the transaction that carries it.
func (t *txnLoop) send(ctx context.Context, batch []usage.Event, out []usage.Outcome) {
	r := &sendReq{ctx: ctx, batch: batch, out: out, done: make(chan struct{})}
	t.mu.Lock()
	if t.closed {
		t.mu.Unlock()
		r.fail(kgo.ErrClientClosed)
		return
	}
	t.queue = append(t.queue, r)
	t.mu.Unlock()
	select {
	case t.wake <- struct{}{}:
	default:
	}
	<-r.done // the loop answers every request, at once when its ctx ends
}

func (r *sendReq) fail(err error) {
	for i := range r.out {
		r.out[i] = usage.Outcome{Result: usage.Retry, Err: err}
	}
}

func (t *txnLoop) run() {
	defer close(t.done)
	for {
		select {
		case <-t.wake:
		case <-t.ctx.Done():
			t.mu.Lock()
			t.closed = true
			left := t.queue
			t.queue = nil
			t.mu.Unlock()
			for _, r := range left {
				r.fail(kgo.ErrClientClosed)
				close(r.done)
			}
			if t.cl != nil {
				t.cl.Close()
			}
			return
		}
		for {
			reqs := t.take()
			if len(reqs) == 0 {
				break
			}
			t.transact(reqs)
			for _, r := range reqs {
				close(r.done)
			}
		}
	}
}

// take returns the queued Sends, up to a transaction's worth of events
// (at least one Send).
func (t *txnLoop) take() []*sendReq {
	t.mu.Lock()
	defer t.mu.Unlock()
	n, i := 0, 0
	for ; i < len(t.queue); i++ {
		if i > 0 && n+len(t.queue[i].batch) > maxTxnEvents {
			break
		}
		n += len(t.queue[i].batch)
	}
	reqs := t.queue[:i:i]
	t.queue = t.queue[i:]
	return reqs
}

// item is one event of a transaction: the Send it came in and its index.
type item struct {
	r *sendReq
	i int
}

func (it item) event() *usage.Event    { return &it.r.batch[it.i] }
func (it item) set(out usage.Outcome)  { it.r.out[it.i] = out }
func (it item) retry(err error)        { it.set(usage.Outcome{Result: usage.Retry, Err: err}) }
func retryAll(items []item, err error) { forEach(items, func(it item) { it.retry(err) }) }
func forEach(items []item, f func(it item)) {
	for _, it := range items {
		f(it)
	}
}

// transact delivers reqs in a transaction and sets every outcome. Events
// held back only because another record of the transaction was refused for
// good go again at once, in a second transaction.
func (t *txnLoop) transact(reqs []*sendReq) {
	ctx, cancel := context.WithCancel(t.ctx)
	defer cancel()
	var items []item
	for _, r := range reqs {
		// A Send whose ctx ends (the outbox closing) ends the transaction:
		// it is aborted, and its events stay owed.
		defer context.AfterFunc(r.ctx, cancel)()
		for i := range r.batch {
			items = append(items, item{r, i})
		}
	}
	for attempt := 0; len(items) > 0; attempt++ {
		again := t.attempt(ctx, items)
		if attempt == 1 {
			retryAll(again, errors.New("kafka transaction aborted twice because records were refused"))
			return
		}
		items = again
	}
}

// attempt runs one transaction over items, sets their outcomes and returns
// those to try again at once.
func (t *txnLoop) attempt(ctx context.Context, items []item) []item {
	if t.blocked != nil {
		retryAll(items, t.blocked)
		return nil
	}
	if err := t.ready(ctx); err != nil {
		retryAll(items, err)
		return nil
	}
	send := make([]item, 0, len(items))
	for _, it := range items {
		if _, ok := t.recovered[it.event().ID]; ok {
			// A transaction of the process before committed it.
			delete(t.recovered, it.event().ID)
			it.set(usage.Outcome{Result: usage.Delivered, Answer: t.recoveredAnswer})
			continue
		}
		send = append(send, it)
	}
	if len(send) == 0 {
		return nil
	}
	t.mu.Lock()
	unconfirmed := len(t.unconfirmed)
	t.mu.Unlock()
	if unconfirmed > maxUnconfirmed {
		retryAll(send, fmt.Errorf("kafka: %d delivered events are not yet cleared from the spool; waiting for its commits", unconfirmed))
		return nil
	}
	if err := t.cl.BeginTransaction(); err != nil {
		t.discard()
		retryAll(send, fmt.Errorf("kafka: beginning a transaction: %w", err))
		return nil
	}
	t.nonce++
	recs, errs := t.produce(ctx, send)
	if err := t.cl.Flush(ctx); err != nil {
		// Only ctx ends a flush early: the transaction is left open for
		// the next recovery's fence to abort.
		t.discard()
		t.wait(recs)
		retryAll(send, fmt.Errorf("kafka transaction abandoned: %w", context.Cause(ctx)))
		return nil
	}
	t.wait(recs)
	if again, failed := t.failed(ctx, send, errs); failed {
		return again
	}
	cp := &recs.records[len(send)]
	if err := t.cl.EndTransaction(ctx, kgo.TryCommit); err != nil {
		t.settleUnknown(ctx, send, recs, err)
		return nil
	}
	t.committed(send, recs, cp.Offset)
	return nil
}

// ready makes a client if there is none and, when the spool may hold
// events a committed transaction delivered, fences the previous holder of
// the id and reads the latest checkpoint back.
func (t *txnLoop) ready(ctx context.Context) error {
	if t.cl == nil {
		cl, err := kgo.NewClient(t.opts...)
		if err != nil {
			return fmt.Errorf("kafka: %w", err)
		}
		t.cl = cl
	}
	if !t.needRecovery {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, recoveryTimeout)
	defer cancel()
	start := time.Now()
	// Initialising the producer id fences the previous process and
	// aborts its open transaction; the coordinator answers only once that
	// transaction's outcome is written, so the read below sees it.
	if _, _, err := t.cl.ProducerID(ctx); err != nil {
		t.discard()
		return t.classifyTxnErr("fencing the previous holder of transactional id "+t.cfg.ID, err)
	}
	t.mu.Lock()
	from := t.lastCheckpoint
	t.mu.Unlock()
	cp, scanned, err := readLatest(ctx, t.cl, t.base, t.cfg.CheckpointTopic, t.cfg.ID, from)
	if err != nil {
		return t.classifyTxnErr("recovering from the checkpoint topic "+t.cfg.CheckpointTopic, err)
	}
	ids := cp.ids
	if t.held != nil {
		// At start: only what the spool holds can be sent again.
		ids = ids[:0:0]
		for _, id := range cp.ids {
			if _, ok := t.held[id]; ok {
				ids = append(ids, id)
			}
		}
		t.held = nil
	}
	t.recovered = make(map[usage.ID]struct{}, len(ids))
	t.mu.Lock()
	for _, id := range ids {
		t.recovered[id] = struct{}{}
		t.unconfirmed[id] = struct{}{}
	}
	if cp.found {
		t.lastCheckpoint = cp.offset
	}
	rec := Recovery{Took: time.Since(start), Scanned: scanned, Found: len(ids)}
	t.stats.Recoveries = append(t.stats.Recoveries, rec)
	t.mu.Unlock()
	t.lastNonce = cp.nonce
	t.needRecovery = false
	t.logger.Info("litewavemetric: kafka transactions recovered",
		"transactional_id", t.cfg.ID, "delivered_before", rec.Found, "records_read", rec.Scanned, "took", rec.Took)
	return nil
}

// batchRecords are a transaction's records: its events' and, last, the
// checkpoint.
type batchRecords struct {
	records []kgo.Record
	pending sync.WaitGroup
}

// produce buffers send's records and the checkpoint in the transaction;
// errs[i] is set when record i's promise fires.
func (t *txnLoop) produce(ctx context.Context, send []item) (*batchRecords, []error) {
	recs := &batchRecords{records: make([]kgo.Record, len(send)+1)}
	errs := make([]error, len(send)+1)
	buf := make([]byte, 0, len(send)*recordGuess)
	ids := make([]usage.ID, len(send))
	var enc usage.RecordEncoder // a transaction's events share their windows' bounds
	for i, it := range send {
		buf = t.b.encode(&enc, &recs.records[i], it.event(), buf)
		ids[i] = it.event().ID
	}
	t.mu.Lock()
	held := make([]usage.ID, 0, len(t.unconfirmed))
	for id := range t.unconfirmed {
		held = append(held, id)
	}
	t.mu.Unlock()
	cp := &recs.records[len(send)]
	cp.Topic, cp.Partition, cp.Key = t.cfg.CheckpointTopic, checkpointPartition, []byte(t.cfg.ID)
	cp.Value = appendCheckpoint(nil, t.nonce, ids, held)
	recs.pending.Add(len(recs.records))
	for i := range recs.records {
		t.cl.Produce(ctx, &recs.records[i], func(_ *kgo.Record, err error) {
			errs[i] = err
			recs.pending.Done()
		})
	}
	return recs, errs
}

// wait waits until every record's promise has fired.
func (t *txnLoop) wait(recs *batchRecords) { recs.pending.Wait() }

// failed handles a transaction some of whose records failed: it is
// aborted. Records the brokers refused for good are Rejected; if nothing
// else failed, the others are returned to go again at once.
func (t *txnLoop) failed(ctx context.Context, send []item, errs []error) (again []item, failed bool) {
	var first error
	for _, err := range errs {
		if err != nil {
			first = err
			break
		}
	}
	if first == nil {
		return nil, false
	}
	t.abort(ctx)
	for _, err := range errs {
		if isFence(err) {
			retryAll(send, t.fenced(err))
			return nil, true
		}
	}
	if cpErr := errs[len(send)]; cpErr != nil {
		err := t.classifyTxnErr("writing the checkpoint to "+t.cfg.CheckpointTopic, cpErr)
		retryAll(send, err)
		return nil, true
	}
	onlyRejections := true
	for i, it := range send {
		if errs[i] == nil {
			continue
		}
		// Only what condemns the record itself is rejected; anything else
		// (the transaction's state, an ACL on the id) is retried.
		out := t.b.failure(it.event(), errs[i])
		if out.Result == usage.Rejected && !isAny(errs[i], rejectedErrs) {
			out = usage.Outcome{Result: usage.Retry, Err: t.classifyTxnErr("producing in a transaction", out.Err)}
		}
		if out.Result != usage.Rejected {
			onlyRejections = false
		}
		it.set(out)
	}
	for i, it := range send {
		if errs[i] != nil {
			continue
		}
		if onlyRejections {
			again = append(again, it)
		} else {
			it.retry(fmt.Errorf("kafka transaction aborted: another of its records failed: %w", first))
		}
	}
	return again, true
}

// abort ends the open transaction without committing it. If that fails,
// the client is dropped: the next recovery's fence aborts it.
func (t *txnLoop) abort(ctx context.Context) {
	t.mu.Lock()
	t.stats.Aborted++
	t.mu.Unlock()
	if err := t.cl.AbortBufferedRecords(ctx); err != nil {
		t.discard()
		return
	}
	if err := t.cl.EndTransaction(ctx, kgo.TryAbort); err != nil {
		t.discard()
	}
}

// settleUnknown handles a commit that failed: its outcome may be either.
// The client is dropped and the recovery run, as at a start; the latest
// committed checkpoint then says whether this transaction committed.
func (t *txnLoop) settleUnknown(ctx context.Context, send []item, recs *batchRecords, commitErr error) {
	t.discard()
	if isFence(commitErr) {
		commitErr = t.fenced(commitErr)
		if t.blocked != nil {
			retryAll(send, t.blocked)
			return
		}
	}
	if err := t.ready(ctx); err != nil {
		retryAll(send, fmt.Errorf("kafka transaction outcome unknown (%w), and finding it out failed: %w", commitErr, err))
		return
	}
	if t.lastNonce != t.nonce {
		retryAll(send, fmt.Errorf("kafka transaction not committed: %w", commitErr))
		return
	}
	for _, it := range send {
		delete(t.recovered, it.event().ID)
	}
	t.committed(send, recs, t.lastCheckpoint)
}

// committed records a committed transaction and sets its outcomes.
func (t *txnLoop) committed(send []item, recs *batchRecords, cpOffset int64) {
	t.mu.Lock()
	for _, it := range send {
		t.unconfirmed[it.event().ID] = struct{}{}
	}
	t.lastCheckpoint = max(t.lastCheckpoint, cpOffset)
	t.stats.Transactions++
	t.stats.Records += int64(len(send))
	t.mu.Unlock()
	answers := make([]byte, 0, len(send)*answerGuess)
	for i, it := range send {
		start := len(answers)
		answers = appendAnswer(answers, &recs.records[i])
		it.set(usage.Outcome{Result: usage.Delivered, Answer: answers[start:len(answers):len(answers)]})
	}
}

// discard drops the client, whose transaction state is not known: the
// next transaction makes a new one, after a recovery.
func (t *txnLoop) discard() {
	if t.cl != nil {
		t.cl.Close()
		t.cl = nil
	}
	t.needRecovery = true
}

// fenced handles a fence. A transaction that outlived the timeout is
// fenced too, so a fence is recovered from; a second one within
// fenceWindow means another process holds the id, and then nothing more is
// tried: fencing it back would start a loop.
func (t *txnLoop) fenced(err error) error {
	t.discard()
	if t.lastFence.IsZero() || time.Since(t.lastFence) > fenceWindow {
		t.lastFence = time.Now()
		return fmt.Errorf("kafka producer fenced (recovering): %w", err)
	}
	t.blocked = usage.Misconfigured(fmt.Errorf("kafka transactional id %s is used by another process: %w", t.cfg.ID, err),
		"two exporters share a spool directory or an instance id: give each its own LITEWAVE_SPOOL_DIR (WithSpoolDir); this one stops producing, and its spool keeps the usage")
	return t.blocked
}

func isFence(err error) bool {
	return errors.Is(err, kerr.ProducerFenced) || errors.Is(err, kerr.InvalidProducerEpoch) ||
		errors.Is(err, kerr.TransactionCoordinatorFenced)
}

// classifyTxnErr names what failed and marks configuration problems: a
// missing checkpoint topic, missing ACLs, a cluster without transactions.
func (t *txnLoop) classifyTxnErr(what string, err error) error {
	err = fmt.Errorf("kafka: %s: %w", what, err)
	switch {
	case errors.Is(err, kerr.UnknownTopicOrPartition):
		return usage.Misconfigured(err, "create the checkpoint topic "+t.cfg.CheckpointTopic+
			" (cleanup.policy=compact), or set LITEWAVE_KAFKA_CHECKPOINT_TOPIC (KafkaTransactions.CheckpointTopic); or set LITEWAVE_KAFKA_TRANSACTIONS=false")
	case errors.Is(err, kerr.TransactionalIDAuthorizationFailed), errors.Is(err, kerr.TopicAuthorizationFailed),
		errors.Is(err, kerr.ClusterAuthorizationFailed), errors.Is(err, kerr.UnsupportedVersion):
		return usage.Misconfigured(err, transactionsFix)
	case isSASL(err):
		return usage.Misconfigured(err, saslFix)
	}
	return err
}

func (t *txnLoop) mark() []byte {
	t.mu.Lock()
	defer t.mu.Unlock()
	return encodeMark(t.lastCheckpoint)
}

func (t *txnLoop) released(ids []usage.ID) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, id := range ids {
		delete(t.unconfirmed, id)
	}
}

func (t *txnLoop) close() {
	t.cancel()
	<-t.done
}

// Transactional is a Backend that delivers in transactions; it is a
// usage.Recoverable, so that the spool keeps what its recovery needs.
type Transactional struct{ *Backend }

var _ usage.Recoverable = (*Transactional)(nil)

// Mark is the offset of the latest committed checkpoint known, for the
// spool to keep: the next start reads the checkpoint topic from there.
func (t *Transactional) Mark() []byte { return t.txn.mark() }

// Released forgets delivered events the spool no longer holds: later
// checkpoints need not list them.
func (t *Transactional) Released(ids []usage.ID) { t.txn.released(ids) }

// Stats returns what the transactions have done so far.
func (t *Transactional) Stats() TxnStats {
	t.txn.mu.Lock()
	defer t.txn.mu.Unlock()
	s := t.txn.stats
	s.Recoveries = slices.Clone(s.Recoveries)
	return s
}
