package main

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"runtime"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/aiorch/litewavemetric"
	"github.com/aiorch/litewavemetric/internal/usage"
)

const (
	benchTopic      = "usage-events"
	kafkaPartitions = 6
)

// kafkaCluster is an in-process cluster that speaks the Kafka protocol,
// with three brokers, that stores what it is sent, as brokers do: each
// round has its own, so that what one stored does not weigh on the next.
func kafkaCluster() (*kfake.Cluster, error) {
	return kfake.NewCluster(kfake.NumBrokers(3), kfake.SeedTopics(kafkaPartitions, benchTopic),
		kfake.SeedTopics(1, benchTopic+".checkpoints"))
}

// endTxns counts the transactions a cluster commits.
func endTxns(c *kfake.Cluster) *atomic.Int64 {
	n := new(atomic.Int64)
	c.ControlKey(int16(kmsg.EndTxn), func(req kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		if req.(*kmsg.EndTxnRequest).Commit {
			n.Add(1)
		}
		return nil, nil, false
	})
	return n
}

// produceCount counts the produce requests a cluster receives and the
// records in them.
type produceCount struct{ requests, records atomic.Int64 }

// countProduces observes every produce request c receives, without
// handling it.
func countProduces(c *kfake.Cluster) *produceCount {
	pc := new(produceCount)
	c.ControlKey(int16(kmsg.Produce), func(req kmsg.Request) (kmsg.Response, error, bool) {
		pc.requests.Add(1)
		for _, t := range req.(*kmsg.ProduceRequest).Topics {
			for _, p := range t.Partitions {
				pc.records.Add(recordsIn(p.Records))
			}
		}
		return nil, nil, false
	})
	return pc
}

// recordsIn counts the records of the record batches in b: each batch
// header gives its length at byte 8 and its record count at byte 57.
func recordsIn(b []byte) int64 {
	var n int64
	for len(b) >= 61 {
		n += int64(int32(binary.BigEndian.Uint32(b[57:])))
		size := 12 + int(int32(binary.BigEndian.Uint32(b[8:])))
		if size <= 12 || size > len(b) {
			break
		}
		b = b[size:]
	}
	return n
}

// since is the records per produce request since before, 0 if none.
func (pc *produceCount) since(before [2]int64) float64 {
	reqs := pc.requests.Load() - before[0]
	if reqs == 0 {
		return 0
	}
	return float64(pc.records.Load()-before[1]) / float64(reqs)
}

func (pc *produceCount) now() [2]int64 { return [2]int64{pc.requests.Load(), pc.records.Load()} }

// kafkaShape is how each side of the Kafka rows sends: records per
// produce request and per transaction.
type kafkaShape struct {
	flush, bare, txnFlush, bareTxn float64 // records per produce request
	perTxn                         float64 // records per transaction, the exporter's and so the bare one's
}

// measureShape runs each side once on a cluster of its own that counts
// produce requests and transactions, and returns the shape of their
// measured collections. It is apart from the timed rounds: observing
// requests costs kfake a little on each.
func measureShape(b *backend, n, tenants, concurrency int) (kafkaShape, error) {
	var sh kafkaShape
	c, err := kafkaCluster()
	if err != nil {
		return sh, err
	}
	defer c.Close()
	pc := countProduces(c)
	commits := endTxns(c)
	var before [2]int64
	var commitsBefore int64
	mark := func() { before, commitsBefore = pc.now(), commits.Load() }
	if _, err := kafkaFlush(b, c, n, tenants, concurrency, false, mark, ""); err != nil {
		return sh, err
	}
	sh.flush = pc.since(before)
	if _, err := bareKafka(c, n, tenants, mark); err != nil {
		return sh, err
	}
	sh.bare = pc.since(before)
	if _, err := kafkaFlush(b, c, n, tenants, concurrency, true, mark, ""); err != nil {
		return sh, err
	}
	sh.txnFlush = pc.since(before)
	sh.perTxn = float64(n) / float64(max(1, commits.Load()-commitsBefore))
	if _, err := bareKafkaTxn(c, n, tenants, int(sh.perTxn+0.5), mark); err != nil {
		return sh, err
	}
	sh.bareTxn = pc.since(before)
	return sh, nil
}

// steadyDelivery measures the second of two collections of the same n
// series: the steady state, in which every series and customer is known.
// extra options choose the backend; delivered says how many events the
// backend has; measuring, if not nil, is called as the measured collection
// begins. The Export returns once every event had its first outcome, which
// on a healthy backend is delivery.
func steadyDelivery(b *backend, n, tenants, concurrency int, delivered func(*litewavemetric.Exporter) int64, measuring func(), extra ...litewavemetric.Option) (float64, error) {
	ctx := context.Background()
	opts := append([]litewavemetric.Option{litewavemetric.WithEndpoint(b.URL), litewavemetric.WithConcurrency(concurrency),
		litewavemetric.WithMaxSeries(2 * n), litewavemetric.WithSpoolDir(""), litewavemetric.WithAPIKey("")}, extra...)
	exp, err := litewavemetric.New(ctx, opts...)
	if err != nil {
		return 0, err
	}
	defer exp.Shutdown(ctx)
	if err := exp.Export(ctx, collection(n, tenants)); err != nil {
		return 0, fmt.Errorf("first collection: %w", err)
	}
	rm := collection(n, tenants)
	before := delivered(exp)
	runtime.GC()
	if measuring != nil {
		measuring()
	}
	start := time.Now()
	if err := exp.Export(ctx, rm); err != nil {
		return 0, err
	}
	elapsed := time.Since(start)
	if got := delivered(exp) - before; got != int64(n) {
		return 0, fmt.Errorf("%d events delivered, want %d", got, n)
	}
	return float64(n) / elapsed.Seconds(), nil
}

func deliveredEvents(exp *litewavemetric.Exporter) int64 { return exp.Stats().DeliveredEvents }

// kafkaDelivery is steadyDelivery through backend kafka to c.
func kafkaDelivery(b *backend, c *kfake.Cluster, n, tenants, concurrency int, measuring func()) (float64, error) {
	return steadyDelivery(b, n, tenants, concurrency, deliveredEvents, measuring,
		litewavemetric.WithBackend(litewavemetric.BackendKafka), litewavemetric.WithKafka(litewavemetric.KafkaConfig{Brokers: c.ListenAddrs()}))
}

// bareKafkaTxn produces the same records with a bare transactional
// franz-go client, committing every perTxn records: the limit of
// transactions of that size on this machine.
func bareKafkaTxn(c *kfake.Cluster, n, tenants, perTxn int, measuring func()) (float64, error) {
	var id [8]byte
	_, _ = rand.Read(id[:])
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...), kgo.DefaultProduceTopic(benchTopic),
		kgo.TransactionalID(fmt.Sprintf("bench-%x", id)))
	if err != nil {
		return 0, err
	}
	defer cl.Close()
	ctx := context.Background()
	commit := func(recs []*kgo.Record) error {
		if err := cl.BeginTransaction(); err != nil {
			return err
		}
		if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
			return err
		}
		return cl.EndTransaction(ctx, kgo.TryCommit)
	}
	if err := commit(kafkaRecords(tenants, tenants)); err != nil {
		return 0, fmt.Errorf("warm-up: %w", err)
	}
	recs := kafkaRecords(n, tenants)
	runtime.GC()
	if measuring != nil {
		measuring()
	}
	start := time.Now()
	for i := 0; i < len(recs); i += perTxn {
		if err := commit(recs[i:min(i+perTxn, len(recs))]); err != nil {
			return 0, err
		}
	}
	return float64(n) / time.Since(start).Seconds(), nil
}

// bareKafka produces the same records, keys and values with a bare
// franz-go client with its defaults (acks=all, idempotent), in one
// ProduceSync: the limit of the client on this machine. measuring, if not
// nil, is called after the warm-up, as the measured records begin.
func bareKafka(c *kfake.Cluster, n, tenants int, measuring func()) (float64, error) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...), kgo.DefaultProduceTopic(benchTopic))
	if err != nil {
		return 0, err
	}
	defer cl.Close()
	recs := kafkaRecords(n, tenants)
	ctx := context.Background()
	if err := cl.ProduceSync(ctx, kafkaRecords(tenants, tenants)...).FirstErr(); err != nil {
		return 0, fmt.Errorf("warm-up: %w", err)
	}
	runtime.GC()
	if measuring != nil {
		measuring()
	}
	start := time.Now()
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		return 0, err
	}
	return float64(n) / time.Since(start).Seconds(), nil
}

// kafkaRecords are the records of collection(n, tenants) as the exporter
// writes them: key the quoted event id, value the usage record.
func kafkaRecords(n, tenants int) []*kgo.Record {
	recs := make([]*kgo.Record, n)
	now := time.Now().UnixNano()
	for i := range recs {
		k := usage.Key{Tenant: tenant(i, tenants), Device: device(i, tenants), Meter: "pages.processed"}
		ev := usage.Event{ID: usage.DeriveID("bench", usage.Session{}, k, uint64(i)), Key: k, Customer: "cus_bench",
			Units: int64(1 + i%9), Start: now, End: now}
		recs[i] = &kgo.Record{Key: usage.AppendRecordKey(nil, ev.ID), Value: usage.AppendRecord(nil, &ev)}
	}
	return recs
}
