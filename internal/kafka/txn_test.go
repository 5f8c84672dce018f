package kafka

import (
	"context"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/aiorch/litewavemetric/internal/usage"
)

const checkpoints = topic + ".checkpoints"

// txnCluster is a cluster with the usage topic and the checkpoint topic.
func txnCluster(t testing.TB, opts ...kfake.Opt) *kfake.Cluster {
	return newCluster(t, append([]kfake.Opt{kfake.NumBrokers(3), kfake.SeedTopics(6, topic), kfake.SeedTopics(1, checkpoints)}, opts...)...)
}

// newTransactional returns a transactional backend, closed when the test
// ends.
func newTransactional(t testing.TB, c *kfake.Cluster, txn Transactions, extra ...kgo.Opt) *Transactional {
	t.Helper()
	if txn.ID == "" {
		txn.ID = "litewavemetric-test"
	}
	txn.CheckpointTopic = checkpoints
	if txn.Timeout == 0 {
		txn.Timeout = 10 * time.Second
	}
	b, err := NewTransactional(Config{Brokers: c.ListenAddrs(), Topic: topic, Extra: extra}, txn)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, b.Close()) })
	return b
}

// readCommitted reads the usage topic as a read_committed consumer that
// does not deduplicate: every record it finds, up to the last stable
// offsets now.
func readCommitted(t testing.TB, brokers []string, level kgo.IsolationLevel) []*kgo.Record {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), hang)
	defer cancel()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchIsolationLevel(level),
		kgo.KeepControlRecords(), kgo.FetchMaxWait(100*time.Millisecond))
	require.NoError(t, err)
	defer cl.Close()
	adm := kadm.NewClient(cl)
	ends, err := adm.ListCommittedOffsets(ctx, topic)
	if level == kgo.ReadUncommitted() {
		ends, err = adm.ListEndOffsets(ctx, topic)
	}
	require.NoError(t, err)
	require.NoError(t, ends.Error())
	next := map[int32]int64{}
	done := func() bool {
		for p, o := range ends[topic] {
			if next[p] < o.Offset {
				return false
			}
		}
		return true
	}
	var recs []*kgo.Record
	for !done() {
		fs := cl.PollFetches(ctx)
		require.NoError(t, ctx.Err())
		fs.EachError(func(_ string, _ int32, err error) { require.NoError(t, err) })
		fs.EachRecord(func(r *kgo.Record) {
			next[r.Partition] = r.Offset + 1
			if !r.Attrs.IsControl() {
				recs = append(recs, r)
			}
		})
	}
	return recs
}

func ids(evs []usage.Event) []usage.ID {
	out := make([]usage.ID, len(evs))
	for i := range evs {
		out[i] = evs[i].ID
	}
	return out
}

func TestTransactionsDeliverEachRecordOnce(t *testing.T) {
	c := txnCluster(t)
	b := newTransactional(t, c, Transactions{})
	evs := events(300, 50)
	requireDelivered(t, send(t, b.Backend, evs[:100]))
	requireDelivered(t, send(t, b.Backend, evs[100:]))
	recs := readCommitted(t, c.ListenAddrs(), kgo.ReadCommitted())
	require.Len(t, recs, len(evs))
	got := byKey(t, recs)
	for i := range evs {
		require.Contains(t, got, key(&evs[i]))
	}
	s := b.Stats()
	assert.Equal(t, int64(2), s.Transactions)
	assert.Equal(t, int64(300), s.Records)
}

// A restart on the spool finds what a committed transaction delivered
// and answers it without producing it again; what no transaction
// committed is produced.
func TestRestartProducesNothingACommittedTransactionHolds(t *testing.T) {
	c := txnCluster(t)
	evs := events(200, 40)
	first := newTransactional(t, c, Transactions{})
	requireDelivered(t, send(t, first.Backend, evs[:150]))
	mark := first.Mark()
	require.NotNil(t, mark)
	require.NoError(t, first.Close())

	// As if the spool still held every event: the first 150 committed.
	again := newTransactional(t, c, Transactions{Held: ids(evs), Mark: mark})
	out := send(t, again.Backend, evs)
	requireDelivered(t, out)
	for i := range 150 {
		assert.Contains(t, string(out[i].Answer), `"recovered":true`)
	}
	recs := readCommitted(t, c.ListenAddrs(), kgo.ReadCommitted())
	require.Len(t, recs, len(evs))
	byKey(t, recs)
	s := again.Stats()
	require.Len(t, s.Recoveries, 1)
	assert.Equal(t, 150, s.Recoveries[0].Found)
	t.Logf("read-back: %d records in %v", s.Recoveries[0].Scanned, s.Recoveries[0].Took)
}

// The read-back at a restart reads the checkpoint partition from the mark
// the spool kept, so it reads what every replica wrote since, not the
// partition's history; it finds every held event that a committed
// transaction delivered.
func TestRecoveryReadsOnlyWhatWasWrittenSinceTheMark(t *testing.T) {
	c := txnCluster(t)
	const others = 4
	var (
		stop     = make(chan struct{})
		wg       sync.WaitGroup
		replicas = make([]*Transactional, others)
	)
	for i := range replicas {
		replicas[i] = newTransactional(t, c, Transactions{ID: "litewavemetric-other-" + strconv.Itoa(i)})
		wg.Go(func() {
			for range 200 {
				select {
				case <-stop:
					return
				default:
				}
				requireDelivered(t, send(t, replicas[i].Backend, events(50, 10)))
			}
		})
	}
	defer func() { close(stop); wg.Wait() }()
	committed := func() (n int64) {
		for _, r := range replicas {
			n += r.Stats().Transactions
		}
		return n
	}
	// Well into the others' writing: a long history before the mark.
	require.Eventually(t, func() bool { return committed() >= 100 }, hang, time.Millisecond)

	a := newTransactional(t, c, Transactions{ID: "litewavemetric-restarting"})
	var held []usage.ID
	for range 5 {
		evs := events(100, 20)
		requireDelivered(t, send(t, a.Backend, evs))
		held = append(held, ids(evs)...)
	}
	mark := a.Mark()
	s := a.Stats()
	require.NoError(t, a.Close())
	before := committed()
	require.Eventually(t, func() bool { return committed() >= before+40 }, hang, time.Millisecond)

	again := newTransactional(t, c, Transactions{ID: "litewavemetric-restarting", Held: held, Mark: mark})
	out := send(t, again.Backend, events(1, 1))
	requireDelivered(t, out)
	rec := again.Stats().Recoveries
	require.Len(t, rec, 1)
	assert.Equal(t, len(held), rec[0].Found, "every held event its transactions committed")
	written := committed() - before
	assert.LessOrEqual(t, int64(rec[0].Scanned), 2*(written+others+1), "checkpoints and their markers since the mark, no more")
	t.Logf("%d records per transaction; the others committed %d transactions (%d in all); the read-back read %d records in %v",
		s.Records/s.Transactions, written, committed(), rec[0].Scanned, rec[0].Took)
}
