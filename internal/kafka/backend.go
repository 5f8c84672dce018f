// Package kafka produces usage events natively to a Kafka topic with
// franz-go: one record per event, keyed by the event's id as a JSON string
// and valued by its JSON, the same bytes the REST Proxy path stores.
//
// Without transactions, delivery is idempotent within one client
// (acks=all, franz-go's sequence numbers); across restarts a replayed event
// is a second record with the same key, so consumers dedupe on the key.
// With them (NewTransactional), read_committed consumers see each event
// once (txn.go).
package kafka

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/aiorch/litewavemetric/internal/usage"
)

// defaultMaxBatch is the records per Send when Config.MaxBatch is 0: a
// collection's batch fits well within franz-go's 50 000 buffered records.
const defaultMaxBatch = 1000

// Config configures the backend.
type Config struct {
	Brokers  []string    // seed brokers, host:port
	Topic    string      // the topic every record goes to
	TLS      *tls.Config // nil: plaintext
	SASL     SASL        // zero: none
	Extra    []kgo.Opt   // further franz-go options, applied last
	MaxBatch int         // records per Send; 0: 1000
	Logger   *slog.Logger
}

// Backend produces usage events to one topic. It is a usage.Backend.
type Backend struct {
	cl       *kgo.Client
	topic    string
	maxBatch int
	auth     authWatch // hooked only with SASL
	conns    connWatch
	gate     gate
	meta     *kgo.Client // the transactional backend's, for the gate's checks
	txn      *txnLoop    // nil: idempotent, without transactions

	// pending counts Sends whose promises have not all fired, so that
	// Close can wait for franz-go's promise goroutine to be done with
	// this backend.
	pending    sync.WaitGroup
	closeOnce  sync.Once
	promises   sync.Pool    // of *promises whose records have all reported, for the next Send
	producing  atomic.Int32 // Sends handing franz-go their records, idempotent ones
	moreComing atomic.Bool  // a Send is coming: hold what is buffered for it (see Coming, SendLast)
}

var (
	_ usage.Backend   = (*Backend)(nil)
	_ usage.Lingering = (*Backend)(nil)
)

// New builds the franz-go client and starts checking the topic in the
// background (see gate); it does not wait for any broker: brokers that are
// down now surface as Retry outcomes of Send.
func New(cfg Config) (*Backend, error) {
	b, opts, err := prepare(&cfg)
	if err != nil {
		return nil, err
	}
	if b.cl, err = kgo.NewClient(opts...); err != nil {
		return nil, fmt.Errorf("kafka: %w", err)
	}
	b.gate.start(func(ctx context.Context) error { return b.checkTopic(ctx, b.cl) })
	return b, nil
}

// prepare checks cfg and returns a backend without a client, and the
// client options cfg maps to.
func prepare(cfg *Config) (*Backend, []kgo.Opt, error) {
	if len(cfg.Brokers) == 0 {
		return nil, nil, errors.New("kafka: no brokers")
	}
	if cfg.Topic == "" {
		return nil, nil, errors.New("kafka: no topic")
	}
	if cfg.MaxBatch < 0 {
		return nil, nil, fmt.Errorf("kafka: MaxBatch %d is negative", cfg.MaxBatch)
	}
	b := &Backend{topic: cfg.Topic, maxBatch: cfg.MaxBatch}
	if b.maxBatch == 0 {
		b.maxBatch = defaultMaxBatch
	}
	opts, err := clientOpts(cfg, &b.auth, &b.conns)
	if err != nil {
		return nil, nil, err
	}
	return b, opts, nil
}

// NewTransactional builds a backend that delivers in transactions. Options
// in cfg.Extra that would break them are refused.
func NewTransactional(cfg Config, txn Transactions) (*Transactional, error) {
	if txn.ID == "" || txn.CheckpointTopic == "" {
		return nil, errors.New("kafka: transactions need an id and a checkpoint topic")
	}
	inner, err := probeExtra(cfg.Extra)
	if err != nil {
		return nil, err
	}
	b, base, err := prepare(&cfg)
	if err != nil {
		return nil, err
	}
	producer := append(slices.Clone(base),
		kgo.TransactionalID(txn.ID),
		kgo.TransactionTimeout(txn.Timeout),
		// A record must fail well within the transaction's timeout, so
		// that the transaction is aborted by us and not timed out.
		kgo.RecordDeliveryTimeout(txn.Timeout/2),
		kgo.RecordPartitioner(checkpointPartitioner{inner: inner, topic: txn.CheckpointTopic}),
	)
	logger := cfg.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	// The transactions' clients come and go (txn.go): the checks have
	// one of their own.
	if b.meta, err = kgo.NewClient(base...); err != nil {
		return nil, fmt.Errorf("kafka: %w", err)
	}
	b.txn = newTxnLoop(b, txn, producer, base, logger)
	b.gate.start(func(ctx context.Context) error { return b.checkTopic(ctx, b.meta) })
	return &Transactional{b}, nil
}

// Coming is told that a Send is coming: Sends under way leave their
// records lingering for it (see Send).
func (b *Backend) Coming() { b.moreComing.Store(true) }

// SendLast is Send for a batch that no other Send follows before one
// under way returns: the last Send under way to hand franz-go its records
// ends the linger (see Send).
func (b *Backend) SendLast(ctx context.Context, batch []usage.Event, out []usage.Outcome) {
	b.send(ctx, batch, out, true)
}

// MaxBatch is the most events one Send carries.
func (b *Backend) MaxBatch() int { return b.maxBatch }

// Send produces one record per event and waits for every promise, or for
// ctx to end. Records are never produced again by hand: franz-go retries
// what is retriable and Send only reports what became of each.
func (b *Backend) Send(ctx context.Context, batch []usage.Event, out []usage.Outcome) {
	b.send(ctx, batch, out, false)
}

// send is Send; last says no other Send follows before one under way
// returns (SendLast).
func (b *Backend) send(ctx context.Context, batch []usage.Event, out []usage.Outcome, last bool) {
	if len(batch) == 0 {
		// A last batch that sends nothing (its tenants are being looked
		// up) sends what the Sends before it left lingering, without
		// waiting for anyone's records: a Flush until they are answered
		// would hold this worker, and the lookups it is about to start,
		// behind unrelated deliveries.
		if last && b.txn == nil {
			b.moreComing.Store(false)
			if b.producing.Load() == 0 {
				b.endLinger()
			}
		}
		return
	}
	if err := b.gate.pass(ctx); err != nil {
		if last {
			b.moreComing.Store(false)
		}
		for i := range batch {
			out[i] = b.failure(&batch[i], err)
		}
		return
	}
	if b.txn != nil {
		b.txn.send(ctx, batch, out)
		return
	}
	// Counted before it says nothing more is coming, so that no Send
	// under way ends the linger before this one has handed over.
	b.producing.Add(1)
	if last {
		b.moreComing.Store(false)
	}
	p := b.takePromises(len(batch))
	// Counted before any is produced: the last promise may fire before
	// Produce returns.
	b.pending.Add(1)
	produced := 0
	for i := range batch {
		if ctx.Err() != nil {
			break
		}
		rec := &p.recs[i]
		p.bytes = b.encode(&p.enc, rec, &batch[i], p.bytes)
		b.cl.Produce(ctx, rec, p.report)
		produced++
	}
	if produced < len(batch) {
		b.countReported(p, len(batch)-produced)
	}

	// franz-go lingers (10 ms) to fill its produce requests, and a
	// collection's Sends, arriving a moment apart, fill them together: a
	// Flush per Send cut them to a few hundred records, a round trip to
	// the broker each. Once no further Send is coming (see SendLast),
	// the last of those under way to hand over its records has nothing to
	// wait for: it flushes until its records are answered. That also
	// covers records waiting for the topic's partitions (a new client's
	// first Sends), which would start lingering only once those are known.
	if b.producing.Add(-1) == 0 && !b.moreComing.Load() {
		if produced > 0 {
			b.flushUntil(ctx, p.all)
		} else {
			b.endLinger()
		}
	}
	select {
	case <-p.all:
	case <-ctx.Done():
	}
	// What fired before ctx ended is known: report it rather than Retry.
	// A record that fires later writes only its own entries of p and its
	// own record, which are not read.
	done := p.left.Load() == 0
	answers := make([]byte, 0, len(batch)*answerGuess)
	for i := range batch {
		if p.fired[i].Load() {
			out[i], answers = b.classify(&batch[i], &p.recs[i], p.errs[i], answers)
		} else {
			out[i] = b.unfinished(&batch[i], context.Cause(ctx))
		}
	}
	if done {
		b.promises.Put(p)
	}
}

// endLinger sends what lingers now and returns at once: franz-go's Flush
// ends every linger before it waits, and a done context stops the wait.
func (b *Backend) endLinger() {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_ = b.cl.Flush(ctx)
}

// flushUntil flushes the client, so that nothing lingers, until done is
// closed or ctx ends.
func (b *Backend) flushUntil(ctx context.Context, done <-chan struct{}) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		select {
		case <-done:
			cancel()
		case <-ctx.Done():
		}
	}()
	_ = b.cl.Flush(ctx)
}

// Sizes to allocate a batch's buffers at once: about what a record's key
// and value, and a delivered record's answer, take.
const (
	recordGuess = 300
	answerGuess = 56
)

// encode fills rec with ev's record, its bytes appended to buf: the same
// event, the same bytes, every time. enc keeps the times it formatted
// last: a Send's events share the bounds of their windows.
func (b *Backend) encode(enc *usage.RecordEncoder, rec *kgo.Record, ev *usage.Event, buf []byte) []byte {
	start := len(buf)
	buf = usage.AppendRecordKey(buf, ev.ID)
	mid := len(buf)
	buf = enc.Append(buf, ev)
	*rec = kgo.Record{Topic: b.topic, Key: buf[start:mid:mid], Value: buf[mid:len(buf):len(buf)]}
	return buf
}

// Close closes the client, which fails what is still buffered, and waits
// until every promise has fired.
func (b *Backend) Close() error {
	b.closeOnce.Do(func() {
		b.conns.stop()
		b.gate.close()
		if b.txn != nil {
			b.txn.close() // closes its client
			b.meta.Close()
			return
		}
		b.cl.Close()
		b.pending.Wait()
	})
	return nil
}

// OnUnreachable has report told, from franz-go's goroutines, whenever a
// broker cannot be connected to that could be, or was not tried yet: at
// once for those already failing.
func (b *Backend) OnUnreachable(report func(error)) { b.conns.setReport(report) }

// Unreachable returns the latest failure to connect to a broker while a
// broker is failing, or nil.
func (b *Backend) Unreachable() error { return b.conns.unreachable() }
