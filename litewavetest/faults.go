package litewavetest

import (
	"net/http"
	"strconv"
	"time"
)

// Target selects which API requests a Fault applies to. Requests to unknown
// paths are never faulted.
type Target int

const (
	// AnyRequest matches customer lookups (both paths), event posts and
	// produce requests. It matches produce requests since the produce
	// endpoint was added: a catch-all fault now faults them too.
	AnyRequest Target = iota
	// Lookups matches customer lookups only, on the API and portal paths.
	Lookups
	// Events matches event posts only.
	Events
	// Produces matches Kafka REST Proxy produce requests only.
	Produces
)

func (t Target) matches(k kind) bool {
	switch t {
	case AnyRequest:
		return k != kindOther
	case Lookups:
		return k == kindLookup || k == kindPortal
	case Events:
		return k == kindEvent
	case Produces:
		return k == kindProduce
	}
	return false
}

// Drop selects whether and when the connection is dropped without an answer.
type Drop int

const (
	// DropNone answers normally.
	DropNone Drop = iota
	// DropBeforeRead hijacks and closes the connection without reading the
	// body or answering. The client sees EOF or a reset; nothing is recorded.
	DropBeforeRead
	// DropAfterRecord fully processes the request (an event, or every
	// record of a produce, is recorded and counted exactly as on success)
	// and then closes the connection without answering: the ambiguous case
	// a client must retry idempotently.
	DropAfterRecord
)

// Fault describes what to do to one request. Effects apply in this order:
// Delay, then DropBeforeRead, then Status, then normal processing followed
// by DropAfterRecord or Answer. The zero Fault means normal handling.
type Fault struct {
	// Target selects the requests the fault applies to: a queued fault
	// waits for a request it matches, and a fault a FaultFunc returns for a
	// request it does not match is ignored.
	Target Target
	// Status, if non-zero, is answered instead of processing the request
	// (so nothing is recorded).
	Status int
	// Body is sent with Status; empty means a small JSON error,
	// {"detail":…}, or {"error_code":<Status>,"message":…} for a produce.
	Body string
	// RetryAfter, if non-empty, is sent verbatim as the Retry-After header
	// with Status (seconds or an HTTP date).
	RetryAfter string
	// Header holds further headers sent with Status, such as the Location
	// of a redirect.
	Header http.Header
	// Drop closes the connection without an answer, see Drop.
	Drop Drop
	// Answer, if not nil, is sent with status 200 in place of the answer
	// to a request processed normally (an event, or every record of a
	// produce, is recorded exactly as on success): a backend that takes
	// the request and answers with a body too large, empty ([]byte{}) or
	// not JSON.
	Answer []byte
	// Delay stalls the request this long (or until the client goes away or
	// the server closes) before handling it. A request whose client went
	// away during the delay is not processed and gets no answer.
	Delay time.Duration
}

func (f Fault) isZero() bool {
	return f.Status == 0 && f.Drop == DropNone && f.Delay <= 0 && f.Answer == nil
}

// FaultFunc decides the fault for one request. n is the 1-based sequence
// number of the request among requests of its kind (lookups, events and
// produces are counted separately, every request that reaches the handler
// counts). Return the zero Fault for normal handling.
//
// It is called concurrently, without the server's lock held, and must not
// read r.Body.
type FaultFunc func(r *http.Request, n int) Fault

// SetFaultFunc replaces the fault function; nil disables it.
func (s *Server) SetFaultFunc(f FaultFunc) {
	s.mu.Lock()
	s.faultFunc = f
	s.mu.Unlock()
}

// Script queues faults. Each queued fault applies once, to the next request
// matching its Target, in queue order. The queue is consulted before the
// FaultFunc: a request that takes a queued fault (even one with no effect,
// which is a way to let a request through) does not call the FaultFunc.
func (s *Server) Script(faults ...Fault) {
	s.mu.Lock()
	s.script = append(s.script, faults...)
	s.mu.Unlock()
}

// popScriptLocked removes and returns the first queued fault matching k.
func (s *Server) popScriptLocked(k kind) (Fault, bool) {
	for i, f := range s.script {
		if f.Target.matches(k) {
			s.script = append(s.script[:i], s.script[i+1:]...)
			return f, true
		}
	}
	return Fault{}, false
}

// noteFault counts one applied fault effect. first is true for the first
// effect applied to a request, so Stats.Faults counts faulted requests.
func (s *Server) noteFault(what string, first bool) {
	s.mu.Lock()
	if first {
		s.stats.Faults++
	}
	s.faultsByKind[what]++
	s.mu.Unlock()
}

func statusKind(code int) string { return "status:" + strconv.Itoa(code) }

// wait stalls for d and reports whether the request should still be handled:
// false when the client went away or the server is closing.
func (s *Server) wait(r *http.Request, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		// The timer and a cancellation can race; never process a request
		// whose client is already gone.
		return r.Context().Err() == nil
	case <-r.Context().Done():
		return false
	case <-s.done:
		return false
	}
}

// drop closes the connection without writing anything. Returning from a
// handler without writing would make net/http answer "200 OK", which would
// turn a simulated network failure into a false success.
func drop(w http.ResponseWriter) {
	hj, ok := w.(http.Hijacker)
	if ok {
		if conn, _, err := hj.Hijack(); err == nil {
			_ = conn.Close()
			return
		}
	}
	// Not hijackable (e.g. HTTP/2): net/http aborts the response and closes
	// the connection or stream without logging.
	panic(http.ErrAbortHandler)
}
