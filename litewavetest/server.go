package litewavetest

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"time"
)

const (
	eventsPath   = "/api/v1/events"
	lookupPrefix = "/api/v1/customer-accounts/tenant/"
)

// kind classifies a request by route.
type kind int

const (
	kindOther kind = iota
	kindLookup
	kindEvent
)

// Server is a fake Litewave backend listening on 127.0.0.1.
// All methods are safe for concurrent use.
type Server struct {
	// URL is the base URL, e.g. http://127.0.0.1:port, without a trailing slash.
	URL string

	ts        *httptest.Server
	done      chan struct{} // closed by Close to release delayed handlers
	closeOnce sync.Once

	// Fixed at construction, read without the lock.
	apiKey      string
	listAnswers bool
	handlerExit func()

	// One mutex guards all mutable state: contention is low because the
	// critical sections are a few appends and map operations.
	mu                  sync.Mutex
	customers           map[string]string
	faultFunc           FaultFunc
	script              []Fault
	lookupSeq, eventSeq int
	nextID              int64
	events              []eventRec
	conflicts           []eventRec
	requests            []requestRec
	keys                map[string]int // idempotency key -> index of its first event
	totals              map[Series]int64
	stats               Stats            // all but FaultsByKind, which is copied out of faultsByKind
	faultsByKind        map[string]int64 // kept apart so Stats() can return a copy
}

// NewServer starts a fake backend on a loopback port. Call Close when done.
func NewServer(opts ...Option) *Server {
	cfg := config{customers: make(map[string]string)}
	for _, o := range opts {
		o.apply(&cfg)
	}
	s := &Server{
		done:         make(chan struct{}),
		apiKey:       cfg.apiKey,
		listAnswers:  cfg.listAnswers,
		handlerExit:  cfg.handlerExit,
		customers:    cfg.customers,
		faultFunc:    cfg.faultFunc,
		keys:         make(map[string]int),
		totals:       make(map[Series]int64),
		faultsByKind: make(map[string]int64),
	}
	s.ts = httptest.NewServer(http.HandlerFunc(s.serveHTTP))
	s.URL = s.ts.URL
	return s
}

// Client returns an HTTP client configured for the server; its idle
// connections are closed by Close.
func (s *Server) Client() *http.Client { return s.ts.Client() }

// Close shuts the server down and waits for its handlers. It releases
// handlers blocked in an injected delay and closes client connections first,
// because httptest's Close would otherwise wait for in-flight requests.
// Close is idempotent.
func (s *Server) Close() {
	s.closeOnce.Do(func() {
		close(s.done)
		s.ts.CloseClientConnections()
		s.ts.Close()
	})
}

// SetCustomer registers (or replaces) the customer of tenantID.
func (s *Server) SetCustomer(tenantID, customerID string) {
	s.mu.Lock()
	s.customers[tenantID] = customerID
	s.mu.Unlock()
}

// RemoveCustomer forgets the customer of tenantID; lookups then answer 404
// and events for it are rejected.
func (s *Server) RemoveCustomer(tenantID string) {
	s.mu.Lock()
	delete(s.customers, tenantID)
	s.mu.Unlock()
}

// route parses the path itself rather than using http.ServeMux, which would
// clean ".." segments and answer redirects, hiding client bugs. The escaped
// path is used so that an escaped '/' inside a tenant id stays part of the
// id, which is then unescaped exactly once.
func route(r *http.Request) (kind, string) {
	p := r.URL.EscapedPath()
	switch {
	case p == eventsPath:
		if r.Method == http.MethodPost {
			return kindEvent, ""
		}
	case strings.HasPrefix(p, lookupPrefix):
		seg := p[len(lookupPrefix):]
		if r.Method != http.MethodGet || seg == "" || strings.Contains(seg, "/") {
			break
		}
		tenant, err := url.PathUnescape(seg)
		if err == nil && tenant != "" {
			return kindLookup, tenant
		}
	}
	return kindOther, ""
}

func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	if s.handlerExit != nil {
		defer s.handlerExit()
	}
	now := time.Now()
	k, tenant := route(r)
	hdr := packHeader(r.Header)

	rr := requestRec{method: r.Method, path: r.URL.Path, rawPath: r.URL.RawPath,
		requestURI: r.RequestURI, hdr: hdr, received: now}
	// Share constants instead of retaining per-request strings (the method
	// is a slice of the whole request line): 100k+ records are kept.
	switch rr.method {
	case http.MethodGet:
		rr.method = http.MethodGet
	case http.MethodPost:
		rr.method = http.MethodPost
	}
	if k == kindEvent && rr.requestURI == eventsPath {
		rr.path, rr.requestURI = eventsPath, eventsPath
	}

	var (
		n        int
		f        Fault
		scripted bool
		ff       FaultFunc
	)
	s.mu.Lock()
	s.requests = append(s.requests, rr)
	s.stats.Requests++
	switch k {
	case kindLookup:
		s.stats.Lookups++
		s.lookupSeq++
		n = s.lookupSeq
	case kindEvent:
		s.stats.Posts++
		s.eventSeq++
		n = s.eventSeq
	}
	if k != kindOther {
		if f, scripted = s.popScriptLocked(k); !scripted {
			ff = s.faultFunc
		}
	}
	s.mu.Unlock()

	// User code runs outside the lock so it may call back into the Server.
	if ff != nil {
		if f = ff(r, n); !f.Target.matches(k) {
			f = Fault{}
		}
	}
	if f.isZero() {
		s.handle(k, tenant, w, r, hdr, now, nil).write(w)
		return
	}
	s.serveFault(w, r, f, k, tenant, hdr, now)
}

// serveFault applies f's effects in the documented order around normal
// processing.
func (s *Server) serveFault(w http.ResponseWriter, r *http.Request, f Fault, k kind, tenant string, hdr []byte, now time.Time) {
	first := true
	note := func(what string) {
		s.noteFault(what, first)
		first = false
	}

	var pre *bodyResult
	if f.Delay > 0 {
		note("delay")
		if k == kindEvent && f.Drop != DropBeforeRead {
			// net/http only notices a client hang-up (cancelling the
			// request context) once the body has been read to EOF, so read
			// it before stalling.
			b, err := readBody(w, r)
			pre = &bodyResult{b, err}
		}
		if !s.wait(r, f.Delay) {
			s.mu.Lock()
			s.stats.Aborted++
			s.mu.Unlock()
			drop(w)
			return
		}
	}
	if f.Drop == DropBeforeRead {
		note("drop-before-read")
		drop(w)
		return
	}
	if f.Status != 0 {
		note(statusKind(f.Status))
		rep := reply{status: f.Status, retryAfter: f.RetryAfter, header: f.Header}
		if f.Body != "" {
			rep.body = []byte(f.Body)
		} else {
			rep.body = detailJSON("injected fault: " + http.StatusText(f.Status))
		}
		rep.write(w)
		return
	}
	rep := s.handle(k, tenant, w, r, hdr, now, pre)
	if f.Drop == DropAfterRecord {
		note("drop-after-record")
		drop(w)
		return
	}
	rep.write(w)
}
