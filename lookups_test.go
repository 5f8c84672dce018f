package litewavemetric_test

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/aiorch/litewavemetric"
	"github.com/aiorch/litewavemetric/litewavetest"
)

// One tenant with a thousand devices and a lookup that hangs past its
// timeout holds no delivery worker: a tenant already cached has its events
// delivered before any of the slow tenant's lookups has even failed, on
// every backend.
func TestSlowLookupDelaysNoOtherTenant(t *testing.T) {
	t.Parallel()
	backends := map[string]func(t *testing.T, srv *litewavetest.Server) *pipeline{
		"events": func(t *testing.T, srv *litewavetest.Server) *pipeline {
			return newPipeline(t, srv, litewavemetric.WithTimeout(2*time.Second))
		},
		"kafka-rest": func(t *testing.T, srv *litewavetest.Server) *pipeline {
			return restPipeline(t, srv, litewavemetric.WithTimeout(2*time.Second))
		},
		"kafka": func(t *testing.T, srv *litewavetest.Server) *pipeline {
			return kafkaPipeline(t, srv, newKafka(t).ListenAddrs(), litewavemetric.WithTimeout(2*time.Second))
		},
	}
	for name, build := range backends {
		t.Run(name, func(t *testing.T) {
			slow, cached := tenantID(1), tenantID(0)
			srv := newServer(t, customers(2)...)
			var slowLookups atomic.Int64
			srv.SetFaultFunc(func(r *http.Request, _ int) litewavetest.Fault {
				if strings.HasSuffix(r.URL.Path, "/"+slow) {
					slowLookups.Add(1)
					return litewavetest.Fault{Target: "lookups", Delay: time.Minute}
				}
				return litewavetest.Fault{}
			})
			p := build(t, srv)
			pages := p.counter("pages")
			pages.Add(context.Background(), 1, at(cached, "warm-up"))
			require.NoError(t, p.flush(), "the cached tenant's customer is known")
			before := p.exp.Stats()

			for d := range 1000 {
				pages.Add(context.Background(), 1, at(slow, "d"+strconv.Itoa(d)))
			}
			for d := range 20 {
				pages.Add(context.Background(), 1, at(cached, "d"+strconv.Itoa(d)))
			}
			start := time.Now()
			// A collection, taken into the outbox; the flush ends long
			// before the slow tenant could be delivered.
			ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
			_ = p.provider.ForceFlush(ctx)
			cancel()
			// The slow tenant's lookup hangs until its 2 s timeout: the
			// cached tenant must be delivered meanwhile, with no lookup failed.
			require.Eventually(t, func() bool { return slowLookups.Load() >= 1 }, time.Minute, time.Millisecond,
				"the slow tenant's lookup starts")
			require.Eventually(t, func() bool { return p.exp.Stats().DeliveredEvents-before.DeliveredEvents >= 20 },
				time.Minute, time.Millisecond)
			took := time.Since(start)
			after := p.exp.Stats()
			assert.Zero(t, after.Lookups.Failures-before.Lookups.Failures,
				"the cached tenant was delivered while the slow tenant's first lookup still hung")
			assert.Equal(t, int64(1), slowLookups.Load(), "one lookup for the slow tenant's 1000 events")
			t.Logf("the cached tenant's 20 events were delivered %v after the collection", took.Round(time.Millisecond))
			var ue *litewavemetric.UndeliveredError
			require.ErrorAs(t, p.shutdownWithin(time.Second), &ue, "the slow tenant's usage is owed")
			assert.Equal(t, int64(1000), ue.Units)
		})
	}
}

// A dead lookup path costs one request per tenant per backoff step, not one
// per event: during a two-second flush of 200 events of one tenant whose
// lookups all fail, a handful of lookups go out.
func TestDeadLookupPathIsAskedOncePerBackoffStep(t *testing.T) {
	t.Parallel()
	srv := newServer(t, customers(1)...)
	var lookups atomic.Int64
	srv.SetFaultFunc(func(r *http.Request, _ int) litewavetest.Fault {
		if strings.Contains(r.URL.Path, "customer-accounts") {
			lookups.Add(1)
		}
		return litewavetest.Fault{Target: "lookups", Status: 503}
	})
	p := newPipeline(t, srv)
	pages := p.counter("pages")
	for d := range 200 {
		pages.Add(context.Background(), 1, at(tenantID(0), "d"+strconv.Itoa(d)))
	}
	var ue *litewavemetric.UndeliveredError
	require.ErrorAs(t, p.flushWithin(2*time.Second), &ue)
	assert.Equal(t, int64(200), ue.Units, "owed")
	// The flush backoff runs from 25ms to 400ms: about ten steps in 2s.
	assert.LessOrEqual(t, lookups.Load(), int64(20))
	t.Logf("%d lookups for 200 events in a 2s flush", lookups.Load())
}
