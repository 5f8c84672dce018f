package litewavemetric_test

import (
	"context"
	"fmt"
	"math/big"
	"math/rand/v2"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/aiorch/litewavemetric"
	"github.com/aiorch/litewavemetric/litewavetest"
)

// faultMix fails requests at random with every fault the issue names, in
// fixed proportions, while it is on.
type faultMix struct {
	on  atomic.Bool
	mu  sync.Mutex
	rng *rand.Rand
}

func (f *faultMix) fault(r *http.Request, _ int) litewavetest.Fault {
	if !f.on.Load() {
		return litewavetest.Fault{}
	}
	f.mu.Lock()
	x := f.rng.Float64()
	f.mu.Unlock()
	switch {
	case x < 0.10:
		return litewavetest.Fault{Status: http.StatusServiceUnavailable}
	case x < 0.15:
		return litewavetest.Fault{Status: http.StatusTooManyRequests, RetryAfter: "1"}
	case x < 0.20:
		return litewavetest.Fault{DropBeforeRead: true}
	case x < 0.25 && r.Method == http.MethodPost: // events and produces
		// The ambiguous case: recorded, but the client never hears so.
		return litewavetest.Fault{DropAfterRecord: true}
	case x < 0.28:
		return litewavetest.Fault{Delay: 400 * time.Millisecond} // past the 150ms timeout
	}
	return litewavetest.Fault{}
}

// recordFault fails records at random with retriable errors while on: a
// leader moving, in Confluent's code or (for Redpanda's per-partition
// answers) Kafka's.
func (f *faultMix) recordFault(code int) func(topic string, key, value []byte, n int) litewavetest.RecordFault {
	return func(string, []byte, []byte, int) litewavetest.RecordFault {
		if !f.on.Load() {
			return litewavetest.RecordFault{}
		}
		f.mu.Lock()
		x := f.rng.Float64()
		f.mu.Unlock()
		if x < 0.05 {
			return litewavetest.RecordFault{Code: code, Message: "NOT_LEADER_OR_FOLLOWER"}
		}
		return litewavetest.RecordFault{}
	}
}

// suite is one configuration of the fault suite.
type suite struct {
	spooled  bool
	rest     bool // through the Kafka REST Proxy, with per-record faults
	redpanda bool // the proxy answers per partition
}

// The backend's total per series, counting each idempotency key once,
// equals what was counted, through every kind of fault, with and without a
// spool, on the events API and through a REST Proxy of either answer form;
// no key is ever sent with two different bodies.
func TestFaultSuite(t *testing.T) {
	t.Parallel()
	for name, s := range map[string]suite{
		"events/memory": {}, "events/spool": {spooled: true},
		"kafka-rest/memory": {rest: true}, "kafka-rest/spool": {rest: true, spooled: true},
		"kafka-rest/redpanda": {rest: true, redpanda: true},
	} {
		t.Run(name, func(t *testing.T) { runFaultSuite(t, s) })
	}
}

func runFaultSuite(t *testing.T, s suite) {
	const tenants, devices, collections = 12, 5, 15
	meters := []string{"pages", "docs", "tokens.k"}
	sopts := customers(tenants)
	if s.redpanda {
		sopts = append(sopts, litewavetest.WithRedpandaAnswers())
	}
	srv := newServer(t, sopts...)
	mix := &faultMix{rng: rand.New(rand.NewPCG(42, 7))}
	mix.on.Store(true)
	srv.SetFaultFunc(mix.fault)
	opts := []litewavemetric.Option{litewavemetric.WithTimeout(150 * time.Millisecond), litewavemetric.WithConcurrency(8)}
	if s.spooled {
		opts = append(opts, litewavemetric.WithSpoolDir(t.TempDir()))
	}
	inFlight := int64(8)
	if s.rest {
		inFlight = 8 * 20
		code := 50003
		if s.redpanda {
			code = 6 // NOT_LEADER_OR_FOLLOWER
		}
		srv.SetRecordFaultFunc(mix.recordFault(code))
		opts = append(opts, litewavemetric.WithBackend(litewavemetric.BackendKafkaREST), litewavemetric.WithKafka(litewavemetric.KafkaConfig{RESTProxyURL: srv.URL, RESTMaxRecords: 20, RESTMaxBytes: 1 << 20}))
	}
	p := newPipeline(t, srv, opts...)
	pages, docs, tokens := p.counter(meters[0]), p.counter(meters[1]), p.floatCounter(meters[2])
	counted := map[litewavetest.Series]*big.Float{}
	count := func(s litewavetest.Series, v float64) {
		if counted[s] == nil {
			counted[s] = new(big.Float).SetPrec(200)
		}
		counted[s].Add(counted[s], new(big.Float).SetFloat64(v))
	}
	rng := rand.New(rand.NewPCG(1, 1))
	seriesCount := tenants * devices * len(meters)
	for range collections {
		for i := range tenants {
			for d := range devices {
				if rng.IntN(3) == 0 {
					continue
				}
				tn, dv := tenantID(i), fmt.Sprintf("dev-%d", d)
				a := at(tn, dv)
				// Eighths add up exactly in binary, as the SDK adds them when it
				// merges collections: what is counted is what is billed.
				n1, n2, f := int64(1+rng.IntN(50)), int64(1+rng.IntN(5)), float64(rng.IntN(24))/8
				pages.Add(context.Background(), n1, a)
				docs.Add(context.Background(), n2, a)
				tokens.Add(context.Background(), f, a)
				count(series(tn, dv, meters[0]), float64(n1))
				count(series(tn, dv, meters[1]), float64(n2))
				count(series(tn, dv, meters[2]), f)
			}
		}
		_ = p.flushWithin(20 * time.Millisecond) // a collection; the usage is kept whatever the faults
		st := p.exp.Stats()
		require.LessOrEqual(t, st.OwedEvents, int64(seriesCount), "at most one frozen event per series")
		require.LessOrEqual(t, st.InFlight, inFlight, "events in flight: workers x batch")
	}

	mix.on.Store(false)
	require.NoError(t, p.flush())
	require.NoError(t, p.shutdownWithin(10*time.Second))

	want := map[litewavetest.Series]int64{}
	var wantTotal int64
	for s, v := range counted {
		// The billed total is the floor of the exact sum counted.
		if w, _ := v.Int64(); w > 0 {
			want[s] = w
			wantTotal += w
		}
	}
	assert.Empty(t, mismatches(want, srv.Totals()), "per series [counted, received each key once]")
	assert.Empty(t, srv.Conflicts(), "no key accepted with two different bodies")
	assert.Empty(t, srv.RecordConflicts(), "no record key with two values")
	st, bs := p.exp.Stats(), srv.Stats()
	assert.Zero(t, st.OwedUnits)
	assert.Zero(t, st.RejectedUnits)
	assert.Equal(t, wantTotal, st.DeliveredUnits)
	t.Logf("%s: %d series, %d collections: %d events and %d records accepted (%d units), %d requests, %d faults injected %v, "+
		"%d record faults, %d retries, %d duplicates suppressed, %d lookups; units lost: %d",
		t.Name(), len(want), collections, bs.Accepted, bs.RecordsAccepted, wantTotal, bs.Requests, bs.Faults, bs.FaultsByKind,
		bs.RecordErrors, st.Retries, bs.Duplicates+bs.RecordDuplicates, st.Lookups.Requests, wantTotal-srv.Total())
}
