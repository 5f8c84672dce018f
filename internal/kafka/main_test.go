package kafka

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.uber.org/goleak"

	"github.com/aiorch/litewavemetric/internal/usage"
)

// Nothing is ignored: every goroutine of franz-go and kfake must be gone
// once the backends and clusters of the tests are closed.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const topic = "usage-events"

// hang bounds every wait of a test, to fail rather than hang.
const hang = 15 * time.Second

// newCluster starts a kfake cluster, closed when the test ends.
func newCluster(t testing.TB, opts ...kfake.Opt) *kfake.Cluster {
	t.Helper()
	c, err := kfake.NewCluster(opts...)
	require.NoError(t, err)
	t.Cleanup(c.Close)
	return c
}

// newBackend returns a Backend, closed when the test ends (before the
// cluster it talks to, which was started earlier).
func newBackend(t testing.TB, cfg Config) *Backend {
	t.Helper()
	if cfg.Topic == "" {
		cfg.Topic = topic
	}
	b, err := New(cfg)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, b.Close()) })
	return b
}

var sessions atomic.Uint64

// events returns n events over the given number of series, with ids
// never used before in this test binary.
func events(n, series int) []usage.Event {
	var session usage.Session
	binary.BigEndian.PutUint64(session[:], sessions.Add(1))
	start := time.Date(2026, 10, 1, 10, 0, 0, 0, time.UTC)
	evs := make([]usage.Event, n)
	for i := range evs {
		k := usage.Key{Tenant: fmt.Sprintf("t%d", i%series), Device: "d1", Meter: "api_calls"}
		evs[i] = usage.Event{
			ID:       usage.DeriveID("test", session, k, uint64(i)),
			Key:      k,
			Customer: "cus_" + k.Tenant,
			Units:    int64(i%7 + 1),
			Start:    start.UnixNano(),
			End:      start.Add(time.Minute).UnixNano(),
		}
	}
	return evs
}

// send runs one Send with a deadline that only catches hangs.
func send(t testing.TB, b *Backend, evs []usage.Event) []usage.Outcome {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), hang)
	defer cancel()
	out := make([]usage.Outcome, len(evs))
	b.Send(ctx, evs, out)
	return out
}

func requireDelivered(t testing.TB, out []usage.Outcome) {
	t.Helper()
	for i, o := range out {
		require.Equal(t, usage.Delivered, o.Result, "event %d: %v", i, o.Err)
	}
}

// consume reads the whole topic, up to the end offsets it has now, so a
// duplicate shows up as one record too many.
func consume(t testing.TB, brokers []string, opts ...kgo.Opt) []*kgo.Record {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), hang)
	defer cancel()
	cl, err := kgo.NewClient(append([]kgo.Opt{
		kgo.SeedBrokers(brokers...),
		kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
	}, opts...)...)
	require.NoError(t, err)
	defer cl.Close()
	ends, err := kadm.NewClient(cl).ListEndOffsets(ctx, topic)
	require.NoError(t, err)
	require.NoError(t, ends.Error())
	var want int64
	ends.Each(func(o kadm.ListedOffset) { want += o.Offset })
	var recs []*kgo.Record
	for int64(len(recs)) < want {
		fs := cl.PollFetches(ctx)
		require.NoError(t, ctx.Err(), "read %d of %d records", len(recs), want)
		fs.EachError(func(_ string, _ int32, err error) { require.NoError(t, err) })
		recs = append(recs, fs.Records()...)
	}
	return recs
}

// byKey indexes records by key, failing on a key seen twice.
func byKey(t testing.TB, recs []*kgo.Record) map[string]*kgo.Record {
	t.Helper()
	m := make(map[string]*kgo.Record, len(recs))
	for _, r := range recs {
		_, dup := m[string(r.Key)]
		require.False(t, dup, "key %s produced twice", r.Key)
		m[string(r.Key)] = r
	}
	return m
}

func key(ev *usage.Event) string { return string(usage.AppendRecordKey(nil, ev.ID)) }

type answer struct {
	Topic     string `json:"topic"`
	Partition int32  `json:"partition"`
	Offset    int64  `json:"offset"`
}

func answerOf(t testing.TB, o usage.Outcome) answer {
	t.Helper()
	var a answer
	require.NoError(t, json.Unmarshal(o.Answer, &a), "%s", o.Answer)
	return a
}

// javaPartition is where Kafka's Java producer, and so the REST Proxy,
// puts a record with this key: murmur2, made positive, modulo n. It is
// written here independently of franz-go.
func javaPartition(key []byte, n int) int32 {
	return int32(murmur2(key)&0x7fffffff) % int32(n)
}

func murmur2(b []byte) uint32 {
	const seed, m, r = 0x9747b28c, 0x5bd1e995, 24
	h := uint32(seed) ^ uint32(len(b))
	for ; len(b) >= 4; b = b[4:] {
		k := binary.LittleEndian.Uint32(b)
		k *= m
		k ^= k >> r
		k *= m
		h = h*m ^ k
	}
	switch len(b) {
	case 3:
		h ^= uint32(b[2]) << 16
		fallthrough
	case 2:
		h ^= uint32(b[1]) << 8
		fallthrough
	case 1:
		h ^= uint32(b[0])
		h *= m
	}
	h ^= h >> 13
	h *= m
	h ^= h >> 15
	return h
}

// The helper agrees with Kafka's own test vectors (UtilsTest.testMurmur2),
// so the round trip below really checks REST Proxy parity.
func TestJavaPartitionerHelperMatchesKafka(t *testing.T) {
	for s, want := range map[string]int32{
		"21": -973932308, "foobar": -790332482, "a-little-bit-long-string": -985981536,
		"a-little-bit-longer-string": -1486304829, "abc": 479470107,
		"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8": -58897971,
	} {
		require.Equal(t, want, int32(murmur2([]byte(s))), s)
	}
}
