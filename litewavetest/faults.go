package litewavetest

import (
	"fmt"
	"net/http"
	"strconv"
	"time"
)

// The targets a Fault may name, and the kinds of request each matches.
// Requests to unknown paths are never faulted.
var targets = map[string]func(kind) bool{
	// Customer lookups (both paths), event posts and produce requests.
	"": func(k kind) bool { return k != kindOther },
	// Customer lookups, on the API and portal paths.
	"lookups": func(k kind) bool { return k == kindLookup || k == kindPortal },
	// Event posts.
	"events": func(k kind) bool { return k == kindEvent },
	// Kafka REST Proxy produce requests.
	"produces": func(k kind) bool { return k == kindProduce },
}

// matches reports whether f applies to a request of kind k. A target that
// names no kind is a mistake in the test, not a fault that never fires.
func (f Fault) matches(k kind) bool {
	m, ok := targets[f.Target]
	if !ok {
		panic(fmt.Sprintf("litewavetest: unknown Fault.Target %q: use \"\" (any), \"lookups\", \"events\" or \"produces\"", f.Target))
	}
	return m(k)
}

// Fault describes what to do to one request. Effects apply in this order:
// Delay, then DropBeforeRead, then Status, then normal processing followed
// by DropAfterRecord or Answer. The zero Fault means normal handling.
type Fault struct {
	// Target selects the requests the fault applies to: "" any API request
	// (customer lookups, event posts, produce requests), "lookups",
	// "events" or "produces". A queued fault waits for a request it
	// matches, and a fault the fault function returns for a request it
	// does not match is ignored.
	Target string
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
	// DropBeforeRead hijacks and closes the connection without reading the
	// body or answering. The client sees EOF or a reset; nothing is
	// recorded.
	DropBeforeRead bool
	// DropAfterRecord fully processes the request (an event, or every
	// record of a produce, is recorded and counted exactly as on success)
	// and then closes the connection without answering: the ambiguous case
	// a client must retry idempotently.
	DropAfterRecord bool
	// Answer, if not nil, is sent with status 200 in place of the answer
	// to a request processed normally (an event, or every record of a
	// produce, is recorded exactly as on success): a backend that takes
	// the request and answers with a body too large, empty ([]byte{}), not
	// JSON, or in another shape (a lookup answered with a list).
	Answer []byte
	// Delay stalls the request this long (or until the client goes away or
	// the server closes) before handling it. A request whose client went
	// away during the delay is not processed and gets no answer.
	Delay time.Duration
}

func (f Fault) isZero() bool {
	return f.Status == 0 && !f.DropBeforeRead && !f.DropAfterRecord && f.Delay <= 0 && f.Answer == nil
}

// SetFaultFunc makes f decide the fault for each request; nil disables it.
// n is the 1-based sequence number of the request among requests of its
// kind (lookups, events and produces are counted separately, every request
// that reaches the handler counts). f returns the zero Fault for normal
// handling.
//
// f is called concurrently, without the server's lock held, and must not
// read r.Body.
func (s *Server) SetFaultFunc(f func(r *http.Request, n int) Fault) {
	s.mu.Lock()
	s.faultFunc = f
	s.mu.Unlock()
}

// Script queues faults. Each queued fault applies once, to the next request
// matching its Target, in queue order. The queue is consulted before the
// fault function: a request that takes a queued fault (even one with no
// effect, which is a way to let a request through) does not call it.
func (s *Server) Script(faults ...Fault) {
	for _, f := range faults {
		f.matches(kindOther) // refuses an unknown target here, in the test's goroutine
	}
	s.mu.Lock()
	s.script = append(s.script, faults...)
	s.mu.Unlock()
}

// popScriptLocked removes and returns the first queued fault matching k.
func (s *Server) popScriptLocked(k kind) (Fault, bool) {
	for i, f := range s.script {
		if f.matches(k) {
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
