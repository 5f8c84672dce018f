package litewavetest

import (
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func TestFaultStatusWithRetryAfter(t *testing.T) {
	s := newTestServer(t, WithCustomer("t1", "cus_1"))
	c := newClient(t, true, 5*time.Second)
	date := "Wed, 21 Oct 2015 07:28:00 GMT"
	s.Script(
		Fault{Target: "events", Status: http.StatusServiceUnavailable},
		Fault{Target: "events", Status: http.StatusTooManyRequests, RetryAfter: "2"},
		Fault{Target: "events", Status: http.StatusTooManyRequests, RetryAfter: date, Body: `{"detail":"slow down"}`},
	)
	body := eventBody("m", 4, "cus_1")

	res := mustDo(t, c, eventReq(t, s.URL, "t1", "d1", "k1", body))
	assert.Equal(t, http.StatusServiceUnavailable, res.status)
	assert.Empty(t, res.header.Get("Retry-After"))
	assert.Contains(t, res.body, `"detail"`)

	res = mustDo(t, c, eventReq(t, s.URL, "t1", "d1", "k1", body))
	assert.Equal(t, http.StatusTooManyRequests, res.status)
	assert.Equal(t, "2", res.header.Get("Retry-After"))

	res = mustDo(t, c, eventReq(t, s.URL, "t1", "d1", "k1", body))
	assert.Equal(t, http.StatusTooManyRequests, res.status)
	assert.Equal(t, date, res.header.Get("Retry-After"))
	assert.Equal(t, `{"detail":"slow down"}`, res.body)

	assert.Empty(t, s.Events(), "answered faults are not events")
	res = mustDo(t, c, eventReq(t, s.URL, "t1", "d1", "k1", body))
	assert.Equal(t, http.StatusCreated, res.status, "queue exhausted")
	assert.EqualValues(t, 4, s.Total())

	st := s.Stats()
	assert.EqualValues(t, 3, st.Faults)
	assert.Equal(t, map[string]int64{"status:503": 1, "status:429": 2}, st.FaultsByKind)
	assert.EqualValues(t, 4, st.Posts)
	assert.EqualValues(t, 1, st.Accepted)
}

func TestFaultDropBeforeRead(t *testing.T) {
	s := newTestServer(t, WithCustomer("t1", "cus_1"))
	// Fresh connections: on a reused one net/http would retry the keyed
	// request transparently and hide the drop.
	c := newClient(t, false, 5*time.Second)
	s.Script(Fault{Target: "", DropBeforeRead: true}, Fault{Target: "", DropBeforeRead: true})

	_, err := do(c, eventReq(t, s.URL, "t1", "d1", "k1", eventBody("m", 4, "cus_1")))
	require.Error(t, err)
	_, err = do(c, lookupReq(t, s.URL, "t1"))
	require.Error(t, err)

	assert.Empty(t, s.Events())
	assert.Zero(t, s.Total())
	st := s.Stats()
	assert.EqualValues(t, 2, st.Requests, "dropped requests still reached the handler")
	assert.Equal(t, map[string]int64{"drop-before-read": 2}, st.FaultsByKind)

	// The client retries with the same key and is counted once.
	res := mustDo(t, c, eventReq(t, s.URL, "t1", "d1", "k1", eventBody("m", 4, "cus_1")))
	assert.Equal(t, http.StatusCreated, res.status)
	assert.EqualValues(t, 4, s.Total())
}

func TestFaultDropAfterRecord(t *testing.T) {
	s := newTestServer(t, WithCustomer("t1", "cus_1"))
	c := newClient(t, false, 5*time.Second)
	s.Script(Fault{Target: "events", DropAfterRecord: true})
	body := eventBody("m", 4, "cus_1")

	_, err := do(c, eventReq(t, s.URL, "t1", "d1", "k1", body))
	require.Error(t, err, "client never gets an answer")
	evs := s.Events()
	require.Len(t, evs, 1, "but the event was recorded")
	assert.False(t, evs[0].Duplicate)
	assert.EqualValues(t, 4, s.Total())

	// The idempotent retry is a duplicate and is not counted twice.
	res := mustDo(t, c, eventReq(t, s.URL, "t1", "d1", "k1", body))
	assert.Equal(t, http.StatusOK, res.status)
	assert.JSONEq(t, `{"id":"evt_1","status":"duplicate"}`, res.body)
	assert.EqualValues(t, 4, s.Total())
	assert.Equal(t, map[string]int64{"drop-after-record": 1}, s.Stats().FaultsByKind)
}

func TestFaultDelayPastClientTimeout(t *testing.T) {
	exited := make(chan struct{}, 8)
	s := newTestServer(t, WithCustomer("t1", "cus_1"),
		withHandlerExit(func() { exited <- struct{}{} }))
	c := newClient(t, false, 100*time.Millisecond)
	s.Script(Fault{Target: "events", Delay: time.Hour}, Fault{Target: "lookups", Delay: time.Hour})

	_, err := do(c, eventReq(t, s.URL, "t1", "d1", "k1", eventBody("m", 4, "cus_1")))
	require.Error(t, err)
	_, err = do(c, lookupReq(t, s.URL, "t1"))
	require.Error(t, err)

	// Both handlers return long before the hour is up and before Close:
	// they noticed the client leaving.
	for range 2 {
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			t.Fatal("delayed handler did not notice the client going away")
		}
	}
	assert.Empty(t, s.Events())
	st := s.Stats()
	assert.EqualValues(t, 2, st.Aborted)
	assert.Zero(t, st.Accepted)
	assert.Equal(t, map[string]int64{"delay": 2}, st.FaultsByKind)
}

func TestFaultDelayThenStatus(t *testing.T) {
	s := newTestServer(t, WithCustomer("t1", "cus_1"))
	c := newClient(t, true, 5*time.Second)
	s.Script(
		Fault{Target: "events", Delay: 20 * time.Millisecond},
		Fault{Target: "events", Delay: 20 * time.Millisecond, Status: 503},
	)
	start := time.Now()
	res := mustDo(t, c, eventReq(t, s.URL, "t1", "d1", "k1", eventBody("m", 4, "cus_1")))
	assert.Equal(t, http.StatusCreated, res.status)
	res = mustDo(t, c, eventReq(t, s.URL, "t1", "d1", "k2", eventBody("m", 4, "cus_1")))
	assert.Equal(t, http.StatusServiceUnavailable, res.status)
	assert.GreaterOrEqual(t, time.Since(start), 40*time.Millisecond)
	assert.EqualValues(t, 4, s.Total())
	st := s.Stats()
	assert.EqualValues(t, 2, st.Faults)
	assert.Equal(t, map[string]int64{"delay": 2, "status:503": 1}, st.FaultsByKind)
}

func TestScriptOrderTargetsAndFaultFunc(t *testing.T) {
	var mu sync.Mutex
	var seen []int // sequence numbers passed to the FaultFunc, by kind sign
	s := newTestServer(t, WithCustomer("t1", "cus_1"))
	s.SetFaultFunc(func(r *http.Request, n int) Fault {
		mu.Lock()
		defer mu.Unlock()
		if r.Method == http.MethodGet {
			seen = append(seen, -n)
			return Fault{}
		}
		seen = append(seen, n)
		return Fault{Status: http.StatusBadGateway}
	})
	c := newClient(t, true, 5*time.Second)
	s.Script(
		Fault{Target: "events", Status: 503},
		Fault{Target: "lookups", Status: 500},
		Fault{Target: "events", Status: 429},
		Fault{Target: "events"}, // consumes a turn: handled normally, FaultFunc skipped
		Fault{Target: "", Status: 504},
	)
	post := func() int {
		return mustDo(t, c, eventReq(t, s.URL, "t1", "d1", "", eventBody("m", 1, "cus_1"))).status
	}
	get := func() int { return mustDo(t, c, lookupReq(t, s.URL, "t1")).status }

	assert.Equal(t, 500, get(), "lookup skips queued event faults")
	assert.Equal(t, 503, post())
	assert.Equal(t, 429, post())
	assert.Equal(t, 201, post())
	assert.Equal(t, 504, get(), "AnyRequest matches a lookup")
	assert.Equal(t, 502, post(), "queue empty: FaultFunc decides")
	assert.Equal(t, 200, get())
	assert.Equal(t, 502, post())

	mu.Lock()
	assert.Equal(t, []int{4, -3, 5}, seen, "lookups and events numbered separately")
	mu.Unlock()

	s.SetFaultFunc(nil)
	assert.Equal(t, 201, post())
	assert.EqualValues(t, 2, s.Total())
}

// TestFaultMixConverges mimics the fault-injection suite on a small scale:
// clients retry with the same key until they get a 2xx, and the totals must
// come out exact whatever mix of faults they met.
func TestFaultMixConverges(t *testing.T) {
	s := newTestServer(t, WithCustomer("t1", "cus_1"))
	s.SetFaultFunc(func(_ *http.Request, n int) Fault {
		switch n % 6 {
		case 1:
			return Fault{Status: 503}
		case 2:
			return Fault{Status: 429, RetryAfter: "0"}
		case 3:
			return Fault{DropBeforeRead: true}
		case 4:
			return Fault{DropAfterRecord: true}
		}
		return Fault{}
	})
	c := newClient(t, true, 5*time.Second)

	const workers, perWorker = 8, 25
	var wg sync.WaitGroup
	var failed atomic.Int64
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range perWorker {
				key := string(rune('a'+w)) + "-" + string(rune('A'+i))
				ok := false
				for attempt := 0; attempt < 50 && !ok; attempt++ {
					res, err := do(c, eventReq(t, s.URL, "t1", "d1", key, eventBody("m", 3, "cus_1")))
					ok = err == nil && res.status/100 == 2
				}
				if !ok {
					failed.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	require.Zero(t, failed.Load())
	assert.EqualValues(t, workers*perWorker*3, s.Total())
	st := s.Stats()
	assert.EqualValues(t, workers*perWorker, st.Accepted)
	assert.Positive(t, st.FaultsByKind["drop-after-record"])
	assert.Positive(t, st.Duplicates, "retries after drop-after-record are duplicates")
	assert.Empty(t, s.Conflicts())
}

// TestCloseReleasesDelayedHandlers checks that Close returns promptly while a
// handler is stalled and leaves no goroutine behind.
func TestCloseReleasesDelayedHandlers(t *testing.T) {
	defer goleak.VerifyNone(t)

	entered := make(chan struct{}, 4)
	s := NewServer(WithCustomer("t1", "cus_1"))
	s.SetFaultFunc(func(*http.Request, int) Fault {
		entered <- struct{}{}
		return Fault{Delay: time.Hour}
	})
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	c := &http.Client{Transport: tr}

	errc := make(chan error, 2)
	for _, req := range []*http.Request{
		eventReq(t, s.URL, "t1", "d1", "k1", eventBody("m", 1, "cus_1")),
		lookupReq(t, s.URL, "t1"),
	} {
		go func() {
			_, err := do(c, req)
			errc <- err
		}()
	}
	<-entered
	<-entered

	start := time.Now()
	s.Close()
	assert.Less(t, time.Since(start), 5*time.Second)
	for range 2 {
		assert.Error(t, <-errc, "stalled requests get no answer")
	}
	assert.Empty(t, s.Events())
	s.Close()
}

// A FaultFunc's fault applies only to the requests its Target matches, and
// extra headers go out with the status.
func TestFaultFuncHonoursTargetAndHeaders(t *testing.T) {
	s := newTestServer(t, WithCustomer("t1", "cus_1"))
	c := newClient(t, true, 5*time.Second)
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	s.SetFaultFunc(func(*http.Request, int) Fault {
		return Fault{Target: "events", Status: http.StatusTemporaryRedirect, Header: http.Header{"Location": {"http://elsewhere.example/x"}}}
	})
	res := mustDo(t, c, lookupReq(t, s.URL, "t1"))
	assert.Equal(t, http.StatusOK, res.status, "a lookup is not an event: the fault is ignored")

	res = mustDo(t, c, eventReq(t, s.URL, "t1", "d1", "k1", eventBody("m", 1, "cus_1")))
	assert.Equal(t, http.StatusTemporaryRedirect, res.status)
	assert.Equal(t, "http://elsewhere.example/x", res.header.Get("Location"))
	assert.Empty(t, s.Events())
}

// A target that names no kind of request is a mistake in the test: Script
// refuses it at once rather than queue a fault that never fires.
func TestScriptRefusesAnUnknownTarget(t *testing.T) {
	s := newTestServer(t)
	defer func() {
		msg := fmt.Sprint(recover())
		assert.Contains(t, msg, `unknown Fault.Target "event"`)
		assert.Contains(t, msg, `"events"`, "the message names the valid targets")
	}()
	s.Script(Fault{Target: "event", Status: http.StatusServiceUnavailable})
	t.Error("Script took a fault with an unknown target")
}
