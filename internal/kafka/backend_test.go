package kafka

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"go.uber.org/goleak"

	"github.com/aiorch/litewavemetric/internal/usage"
)

// fastMetadata lowers franz-go's 5 s MetadataMinAge, which paces its
// metadata refetches after a NOT_LEADER answer without a leader hint, a
// failed dial or a missing topic; only to keep those tests fast.
var fastMetadata = kgo.MetadataMinAge(100 * time.Millisecond)

// A batch lands whole: one record per event, keyed by the quoted id on the
// partition the REST Proxy's Java producer would pick, valued by the exact
// bytes of usage.AppendRecord, each once, and each Answer says where.
func TestRoundTripLandsEveryEventOnceWithItsBytes(t *testing.T) {
	c := newCluster(t, kfake.NumBrokers(3), kfake.SeedTopics(6, topic))
	b := newBackend(t, Config{Brokers: c.ListenAddrs()})
	evs := events(500, 50)
	for i := range evs {
		// Windows that differ from event to event within one Send, as a
		// series new in a collection or one retried beside others has.
		evs[i].Start -= int64(i%2) * int64(time.Hour)
		evs[i].End += int64(i%3) * int64(time.Second)
	}
	out := send(t, b, evs)
	requireDelivered(t, out)

	recs := byKey(t, consume(t, c.ListenAddrs()))
	require.Len(t, recs, len(evs))
	sent, read := map[string]int64{}, map[string]int64{}
	partitions := map[int32]bool{}
	for i := range evs {
		ev := &evs[i]
		rec := recs[`"`+ev.ID.String()+`"`]
		require.NotNil(t, rec, "event %d never landed", i)
		assert.Equal(t, usage.AppendRecord(nil, ev), rec.Value)
		assert.Equal(t, javaPartition(rec.Key, 6), rec.Partition)
		assert.Equal(t, answer{topic, rec.Partition, rec.Offset}, answerOf(t, out[i]))
		partitions[rec.Partition] = true

		var v struct {
			Tenant string `json:"tenant_id"`
			Total  int64  `json:"total_usage"`
		}
		require.NoError(t, json.Unmarshal(rec.Value, &v))
		sent[ev.Key.Tenant] += ev.Units
		read[v.Tenant] += v.Total
	}
	assert.Len(t, sent, 50)
	assert.Equal(t, sent, read)
	assert.Len(t, partitions, 6)
}

// completions records the order in which franz-go finishes records, and
// says when all the records of one set are finished.
type completions struct {
	mu    sync.Mutex
	keys  []string
	errs  []error
	wait  map[string]bool
	all   chan struct{}
	close sync.Once
}

func newCompletions(evs []usage.Event) *completions {
	c := &completions{wait: map[string]bool{}, all: make(chan struct{})}
	for i := range evs {
		c.wait[key(&evs[i])] = true
	}
	return c
}

func (c *completions) OnProduceRecordUnbuffered(r *kgo.Record, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.keys = append(c.keys, string(r.Key))
	c.errs = append(c.errs, err)
	delete(c.wait, string(r.Key))
	if len(c.wait) == 0 {
		c.close.Do(func() { close(c.all) })
	}
}

// Outcomes are matched to events by record: with the first partition of
// the batch held until the second one's records are all finished, results
// arrive in another order than the events, and each still gets its own.
func TestOutcomesBelongToTheirEventsWhateverTheCompletionOrder(t *testing.T) {
	c := newCluster(t, kfake.NumBrokers(2), kfake.SeedTopics(2, topic))
	slowLeader := c.LeaderFor(topic, 0)
	if c.LeaderFor(topic, 1) == slowLeader {
		require.NoError(t, c.MoveTopicPartition(topic, 1, 1-slowLeader))
	}
	var slow, fast []usage.Event
	for _, ev := range events(200, 20) {
		if javaPartition([]byte(key(&ev)), 2) == 0 {
			slow = append(slow, ev)
		} else {
			fast = append(fast, ev)
		}
	}
	batch := append(slow[:10:10], fast[:10]...)
	done := newCompletions(fast[:10])

	release := make(chan struct{})
	t.Cleanup(func() { close(release) }) // before the cluster closes
	var slept atomic.Bool
	c.ControlKey(kmsg.Produce.Int16(), func(kmsg.Request) (kmsg.Response, error, bool) {
		if c.CurrentNode() == slowLeader && !slept.Swap(true) {
			c.SleepControl(func() {
				select {
				case <-done.all:
				case <-release:
				}
			})
		}
		return nil, nil, false
	})

	b := newBackend(t, Config{Brokers: c.ListenAddrs(), Extra: []kgo.Opt{kgo.WithHooks(done)}})
	out := send(t, b, batch)
	requireDelivered(t, out)
	require.True(t, slept.Load())
	assert.Equal(t, key(&fast[0]), done.keys[0], "the second partition finished first")
	assert.Equal(t, key(&slow[0]), done.keys[10], "the first partition finished last")

	recs := byKey(t, consume(t, c.ListenAddrs()))
	require.Len(t, recs, len(batch))
	for i := range batch {
		rec := recs[key(&batch[i])]
		assert.Equal(t, answer{topic, rec.Partition, rec.Offset}, answerOf(t, out[i]), "event %d", i)
	}
}

// A retriable broker answer is retried inside franz-go: NOT_LEADER before
// any write, then REQUEST_TIMED_OUT after the write (the "maybe written"
// case, which the idempotent producer dedupes): every event is delivered,
// each exactly once.
func TestRetriableProduceErrorsAreRetriedWithoutDuplicates(t *testing.T) {
	c := newCluster(t, kfake.NumBrokers(3), kfake.SeedTopics(6, topic))
	faults := c.Fault(
		kfake.Fault{Keys: []kmsg.Key{kmsg.Produce}, Topic: topic, Err: kerr.NotLeaderForPartition, Count: 3},
		kfake.Fault{Keys: []kmsg.Key{kmsg.Produce}, Topic: topic, Err: kerr.RequestTimedOut, Count: 2},
	)
	b := newBackend(t, Config{Brokers: c.ListenAddrs(), Extra: []kgo.Opt{fastMetadata}})
	evs := events(300, 30)
	requireDelivered(t, send(t, b, evs))
	assert.Equal(t, 5, faults.Hits())
	assert.Len(t, byKey(t, consume(t, c.ListenAddrs())), len(evs))
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// Brokers that are down are an outage, not a misconfiguration: Send
// reports Retry when its context ends, franz-go drops the records it never
// sent, and once a broker listens the same events are delivered, each once.
func TestUnreachableBrokersAreRetriedThenDelivered(t *testing.T) {
	port := freePort(t)
	evs := events(50, 5)
	done := newCompletions(evs)
	b := newBackend(t, Config{Brokers: []string{fmt.Sprintf("127.0.0.1:%d", port)}, Extra: []kgo.Opt{fastMetadata, kgo.WithHooks(done)}})
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	out := make([]usage.Outcome, len(evs))
	b.Send(ctx, evs, out)
	for i, o := range out {
		require.Equal(t, usage.Retry, o.Result, "event %d", i)
		require.ErrorIs(t, o.Err, context.DeadlineExceeded)
		require.False(t, usage.IsConfig(o.Err))
	}

	// franz-go fails every record behind the first one buffered for a
	// topic with that record's context, so a Send that came too soon
	// would see this one's deadline: wait until these are all dropped.
	select {
	case <-done.all:
	case <-time.After(hang):
		t.Fatal("franz-go kept the records of the cancelled Send")
	}
	for _, err := range done.errs {
		require.ErrorIs(t, err, context.DeadlineExceeded)
	}

	c := newCluster(t, kfake.Ports(port), kfake.SeedTopics(3, topic))
	requireDelivered(t, send(t, b, evs))
	assert.Len(t, byKey(t, consume(t, c.ListenAddrs())), len(evs))
}

// A missing topic is a configuration error that names its fix, known from
// the topic's metadata when the backend starts: franz-go's own unknown-topic
// retries (4 by default) took 1 s or 20 s on kfake to say so. Nothing is
// produced while it lasts, and once the topic exists usage goes through.
func TestMissingTopicIsAConfigurationError(t *testing.T) {
	c := newCluster(t, kfake.NumBrokers(1)) // no topic, no auto-creation
	b := newBackend(t, Config{Brokers: c.ListenAddrs()})
	evs := events(5, 1)
	start := time.Now()
	out := send(t, b, evs)
	t.Logf("missing topic reported after %v", time.Since(start))
	for i, o := range out {
		require.Equal(t, usage.Retry, o.Result)
		require.True(t, usage.IsConfig(o.Err), "%v", o.Err)
		require.ErrorIs(t, o.Err, kerr.UnknownTopicOrPartition)
		assert.Contains(t, o.Err.Error(), "topic "+topic+" does not exist: create it, or set LITEWAVE_KAFKA_TOPIC (KafkaConfig.Topic)")
		assert.Contains(t, o.Err.Error(), evs[i].ID.String())
	}

	cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...))
	require.NoError(t, err)
	defer cl.Close()
	_, err = kadm.NewClient(cl).CreateTopic(context.Background(), 3, 1, nil, topic)
	require.NoError(t, err)
	requireDelivered(t, send(t, b, evs))
	assert.Len(t, byKey(t, consume(t, c.ListenAddrs())), len(evs), "each event once: none was produced while the topic was missing")
}

// A broker that cannot be reached is told at once, when franz-go gives up
// its dial, naming its address: not when the records time out, 30 s later.
func TestUnreachableBrokerIsToldAtOnce(t *testing.T) {
	addr := "127.0.0.1:" + strconv.Itoa(freePort(t))
	b := newBackend(t, Config{Brokers: []string{addr}})
	told := make(chan error, 10)
	b.OnUnreachable(func(err error) { told <- err })
	ctx, cancel := context.WithCancel(context.Background())
	sent := make(chan struct{})
	go func() {
		defer close(sent)
		b.Send(ctx, events(1, 1), make([]usage.Outcome, 1))
	}()
	start := time.Now()
	var err error
	select {
	case err = <-told:
	case <-time.After(hang):
		t.Fatal("not told")
	}
	t.Logf("told after %v: %v", time.Since(start), err)
	var ue *UnreachableError
	require.ErrorAs(t, err, &ue)
	assert.Equal(t, addr, ue.Broker)
	assert.Contains(t, err.Error(), "kafka broker "+addr+" cannot be reached")
	assert.Contains(t, err.Error(), "connection refused")
	assert.Contains(t, err.Error(), "LITEWAVE_KAFKA_BROKERS")
	require.ErrorAs(t, b.Unreachable(), &ue, "and the backend says so while it lasts")
	cancel()
	<-sent
}

// A record the broker refuses (INVALID_RECORD on its partition) and one
// too large for any batch are each Rejected alone: the other events of the
// batch are delivered, and the refused record's partition keeps working.
func TestNonRetriableErrorsRejectOnlyTheirEvent(t *testing.T) {
	c := newCluster(t, kfake.NumBrokers(1), kfake.SeedTopics(6, topic))
	b := newBackend(t, Config{Brokers: c.ListenAddrs()})
	evs := events(300, 30)
	victim := evs[0]
	vp := javaPartition([]byte(key(&victim)), 6)
	batch := []usage.Event{victim}
	var later []usage.Event // for the victim's partition, after it
	for _, ev := range evs[1:] {
		if javaPartition([]byte(key(&ev)), 6) != vp {
			batch = append(batch, ev)
		} else {
			later = append(later, ev)
		}
	}
	huge := events(1, 1)[0]
	huge.Customer = strings.Repeat("x", 1<<20) // over franz-go's 1 MB ProducerBatchMaxBytes
	batch = append(batch, huge)

	fault := c.Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.Produce}, Topic: topic, Partitions: []int32{vp}, Err: kerr.InvalidRecord})
	out := send(t, b, batch)
	require.Equal(t, 1, fault.Hits())

	require.Equal(t, usage.Rejected, out[0].Result, "%v", out[0].Err)
	require.ErrorIs(t, out[0].Err, kerr.InvalidRecord)
	assert.Contains(t, out[0].Err.Error(), "kafka produce to topic "+topic+" (event "+victim.ID.String()+"): INVALID_RECORD")
	last := len(batch) - 1
	require.Equal(t, usage.Rejected, out[last].Result, "%v", out[last].Err)
	require.ErrorIs(t, out[last].Err, kerr.MessageTooLarge)
	assert.Contains(t, out[last].Err.Error(), "kafka produce to topic "+topic+" (event "+huge.ID.String()+"): MESSAGE_TOO_LARGE")
	requireDelivered(t, out[1:last])

	require.NotEmpty(t, later)
	requireDelivered(t, send(t, b, later))
	recs := byKey(t, consume(t, c.ListenAddrs()))
	assert.Len(t, recs, len(evs)-1)
	assert.NotContains(t, recs, key(&victim))
}

// Shutting down cancels Send's context: Send returns at once with Retry
// (and the context's cause) for records still in flight, the promises that
// fire later go nowhere, and Close leaves no goroutine behind.
func TestCancelledSendReturnsAtOnceAndCloseLeavesNoGoroutine(t *testing.T) {
	c := newCluster(t, kfake.NumBrokers(1), kfake.SeedTopics(3, topic))
	arrived, release, woke := make(chan struct{}), make(chan struct{}), make(chan struct{})
	var once sync.Once
	c.ControlKey(kmsg.Produce.Int16(), func(kmsg.Request) (kmsg.Response, error, bool) {
		once.Do(func() {
			close(arrived)
			c.SleepControl(func() { <-release })
			close(woke)
		})
		return nil, nil, false
	})
	b, err := New(Config{Brokers: c.ListenAddrs(), Topic: topic})
	require.NoError(t, err)

	evs := events(100, 10)
	out := make([]usage.Outcome, len(evs))
	shutdown := errors.New("exporter shutting down")
	ctx, cancel := context.WithCancelCause(context.Background())
	defer cancel(nil)
	returned := make(chan struct{})
	go func() {
		defer close(returned)
		b.Send(ctx, evs, out)
	}()
	select {
	case <-arrived:
	case <-time.After(hang):
		t.Fatal("no produce request reached the broker")
	}
	cancel(shutdown)
	select {
	case <-returned:
	case <-time.After(5 * time.Second):
		t.Fatal("Send did not return when its context was cancelled")
	}
	for i, o := range out {
		require.Equal(t, usage.Retry, o.Result, "event %d", i)
		require.ErrorIs(t, o.Err, shutdown)
	}

	require.NoError(t, b.Close())
	// kfake deadlocks its run loop if it closes while a slept control is
	// being woken (cluster.go continueSleptControl): let it wake first.
	close(release)
	select {
	case <-woke:
	case <-time.After(hang):
		t.Fatal("the held produce request never resumed")
	}
	c.Close()
	goleak.VerifyNone(t)
}

// An empty batch has no outcome to wait for: Send returns at once, even
// with a context that never ends.
func TestEmptySendReturnsAtOnce(t *testing.T) {
	c := newCluster(t, kfake.NumBrokers(1), kfake.SeedTopics(1, topic))
	b := newBackend(t, Config{Brokers: c.ListenAddrs()})
	returned := make(chan struct{})
	go func() {
		b.Send(context.Background(), nil, nil)
		close(returned)
	}()
	select {
	case <-returned:
	case <-time.After(hang):
		t.Fatal("Send of an empty batch did not return")
	}
}
