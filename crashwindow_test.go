package litewavemetric_test

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/aiorch/litewavemetric/litewavetest"
)

// crashWarmDevice is the device of crashSteadyChild's warm-up series, so
// that the parent can tell the measured collection's posts from them.
const crashWarmDevice = "warm"

// crashSteadyChild is the child of TestCrashWindowOnTheEventsAPI. As in
// steady state, a first small collection, delivered in full, has every
// customer cached; it then counts one collection of n series, reports it,
// exports it, and waits to be killed during its delivery. Concurrency is
// the environment's (the default unless set), as in production.
func crashSteadyChild(n int) int {
	ctx := context.Background()
	p, err := newCrashPipeline(ctx)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	for i := range 7 {
		p.add(ctx, tenantID(i), crashWarmDevice, 1)
	}
	if err := p.flush(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "warm-up:", err)
		return 2
	}
	for i := range n {
		p.add(ctx, tenantID(i%7), "dev-"+strconv.Itoa(i), int64(i%5+1))
	}
	// Reported before it is exported: the parent kills during the export.
	if err := p.printReport(); err != nil {
		return 2
	}
	_ = p.provider.ForceFlush(ctx)
	time.Sleep(time.Hour) // wait for SIGKILL
	return 0
}

// A process killed while it delivers a collection to the events API, at 64
// in flight, is restarted on its spool. The restart sends again what the
// backend received but the spool had not marked delivered; a backend that
// ignores the idempotency key bills those twice. Each worker records its
// acknowledgements beside the spool before it takes another event, so a
// restart sends again at most the events that were in flight, one per
// worker, whenever the kill comes. This measures them, the crash window
// (the figure depends on the machine, and -race slows delivery and shrinks
// it: measure without -race), and asserts that bound and that every unit
// is billed, each key once after deduplication.
func TestCrashWindowOnTheEventsAPI(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("spawns processes")
	}
	const series, inFlight = 3000, 64
	// Moments after the collection's first post, across the first commits
	// of acknowledgements.
	delays := []time.Duration{0, 3 * time.Millisecond, 6 * time.Millisecond, 9 * time.Millisecond, 12 * time.Millisecond, 15 * time.Millisecond}
	var repeated, posts int64
	for i, delay := range delays {
		srv := newServer(t, customers(7)...)
		first := make(chan struct{})
		var once sync.Once
		srv.SetFaultFunc(func(r *http.Request, _ int) litewavetest.Fault {
			if r.Method == http.MethodPost && r.Header.Get("X-Device-Id") != crashWarmDevice {
				once.Do(func() { close(first) })
			}
			return litewavetest.Fault{}
		})
		spool := t.TempDir()
		cmd, rep := startCrashChild(t, srv.URL, spool, series, crashSteadyEnv+"=1", "LITEWAVE_CONCURRENCY"+"="+strconv.Itoa(inFlight))
		within(t, first, "the collection's first post")
		time.Sleep(delay) // the moment of the crash; nothing is asserted by timing
		kill(t, cmd)
		atKill := srv.Stats()

		recoverFromSpool(t, srv, spool)
		assert.Empty(t, mismatches(rep.Counted, totalsByKey(srv)), "crash %d: [counted, billed], each key counted once", i)
		assert.Empty(t, srv.Conflicts(), "crash %d: replays carry the original bytes", i)
		st := srv.Stats()
		assert.LessOrEqual(t, st.Duplicates, int64(inFlight), "crash %d: only the events in flight are sent again", i)
		repeated += st.Duplicates
		posts += st.Posts
		t.Logf("crash %d, %v after the first post: %d events received before the kill, %d keys posted again after the restart",
			i, delay, atKill.Accepted-7, st.Duplicates)
	}
	t.Logf("events API, %d in flight: %d repeated keys in %d posts over %d crashes, %.0f per crash",
		inFlight, repeated, posts, len(delays), float64(repeated)/float64(len(delays)))
}
