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
	portalPrefix = "/metering/v1alpha1/customer-accounts/tenant/"
	topicsPrefix = "/topics/"
)

// kind classifies a request by route.
type kind int

const (
	kindOther kind = iota
	kindLookup
	kindEvent
	kindPortal  // customer lookup through the portal, which wants an API key
	kindProduce // Kafka REST Proxy v2 produce
)

// Server is a fake Litewave backend listening on 127.0.0.1 (NewServer), or
// an http.Handler to serve yourself (NewHandler).
// All methods are safe for concurrent use.
type Server struct {
	// URL is the base URL, e.g. http://127.0.0.1:port, without a trailing
	// slash; empty for a Server from NewHandler.
	URL string

	ts        *httptest.Server // nil for a Server from NewHandler
	done      chan struct{}    // closed by Close to release delayed handlers
	closeOnce sync.Once

	// Fixed at construction, read without the lock.
	apiKey      string
	portalKey   string
	anyTenant   bool
	redpanda    bool
	topicSet    map[string]bool // nil: every topic exists
	handlerExit func()

	// One mutex guards all mutable state: contention is low because the
	// critical sections are a few appends and map operations.
	mu                  sync.Mutex
	customers           map[string]string
	faultFunc           func(*http.Request, int) Fault
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

	produceSeq, recordSeq int
	recordScript          []RecordFault
	recordFaultFunc       func(topic string, key, value []byte, n int) RecordFault
	topics                map[string]*topicLog
	records               []recordRec
	recordConflicts       []recordRec
}

// NewServer starts a fake backend on a loopback port. Call Close when done.
func NewServer(opts ...Option) *Server {
	s := NewHandler(opts...)
	s.ts = httptest.NewServer(s)
	s.URL = s.ts.URL
	return s
}

// NewHandler returns a fake backend that does not listen: serve it, an
// http.Handler, on your own listener or beside your own routes (as the
// litewave dev command does). Its URL is empty and Client returns
// http.DefaultClient. Close it before shutting your server down, to
// release handlers blocked in an injected delay.
func NewHandler(opts ...Option) *Server {
	cfg := config{customers: make(map[string]string)}
	for _, o := range opts {
		o.apply(&cfg)
	}
	return &Server{
		done:         make(chan struct{}),
		apiKey:       cfg.apiKey,
		portalKey:    cfg.portalKey,
		anyTenant:    cfg.anyTenant,
		redpanda:     cfg.redpanda,
		topicSet:     cfg.topics,
		handlerExit:  cfg.handlerExit,
		customers:    cfg.customers,
		keys:         make(map[string]int),
		totals:       make(map[Series]int64),
		faultsByKind: make(map[string]int64),
		topics:       make(map[string]*topicLog),
	}
}

// Close shuts the server down and waits for its handlers. It releases
// handlers blocked in an injected delay and closes client connections first,
// because httptest's Close would otherwise wait for in-flight requests.
// Close is idempotent.
func (s *Server) Close() {
	s.closeOnce.Do(func() {
		close(s.done)
		if s.ts != nil {
			s.ts.CloseClientConnections()
			s.ts.Close()
		}
	})
}

// SetCustomer registers (or replaces) the customer of tenantID. An empty
// customerID forgets the tenant: lookups then answer 404 and its events and
// records are rejected (with [WithAnyTenant] the tenant falls back to the
// customer "cus_<tenant>" instead).
func (s *Server) SetCustomer(tenantID, customerID string) {
	s.mu.Lock()
	if customerID == "" {
		delete(s.customers, tenantID)
	} else {
		s.customers[tenantID] = customerID
	}
	s.mu.Unlock()
}

// customerLocked returns the customer of tenant; s.mu must be held.
func (s *Server) customerLocked(tenant string) (string, bool) {
	if c, ok := s.customers[tenant]; ok {
		return c, true
	}
	if s.anyTenant {
		return "cus_" + tenant, true
	}
	return "", false
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
		return lastSegment(r, http.MethodGet, p[len(lookupPrefix):], kindLookup)
	case strings.HasPrefix(p, portalPrefix):
		return lastSegment(r, http.MethodGet, p[len(portalPrefix):], kindPortal)
	case strings.HasPrefix(p, topicsPrefix):
		return lastSegment(r, http.MethodPost, p[len(topicsPrefix):], kindProduce)
	}
	return kindOther, ""
}

// lastSegment routes a request whose path ends in one escaped segment (a
// tenant or topic name) to k, or to kindOther.
func lastSegment(r *http.Request, method, seg string, k kind) (kind, string) {
	if r.Method != method || seg == "" || strings.Contains(seg, "/") {
		return kindOther, ""
	}
	name, err := url.PathUnescape(seg)
	if err != nil || name == "" {
		return kindOther, ""
	}
	return k, name
}

// ServeHTTP answers one request as the fake backend.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
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
		ff       func(*http.Request, int) Fault
	)
	s.mu.Lock()
	s.requests = append(s.requests, rr)
	s.stats.Requests++
	switch k {
	case kindLookup, kindPortal:
		s.stats.Lookups++
		s.lookupSeq++
		n = s.lookupSeq
	case kindEvent:
		s.stats.Posts++
		s.eventSeq++
		n = s.eventSeq
	case kindProduce:
		s.stats.Produces++
		s.produceSeq++
		n = s.produceSeq
	}
	if k != kindOther {
		if f, scripted = s.popScriptLocked(k); !scripted {
			ff = s.faultFunc
		}
	}
	s.mu.Unlock()

	// User code runs outside the lock so it may call back into the Server.
	if ff != nil {
		if f = ff(r, n); !f.matches(k) {
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
		if limit := bodyLimit(k); limit > 0 && !f.DropBeforeRead {
			// net/http only notices a client hang-up (cancelling the
			// request context) once the body has been read to EOF, so read
			// it before stalling.
			b, err := readBody(w, r, limit)
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
	if f.DropBeforeRead {
		note("drop-before-read")
		drop(w)
		return
	}
	if f.Status != 0 {
		note(statusKind(f.Status))
		msg := "injected fault: " + http.StatusText(f.Status)
		rep := errReply(f.Status, msg)
		if k == kindProduce {
			rep = kafkaErrReply(f.Status, msg)
		}
		if f.Body != "" {
			rep.body = []byte(f.Body)
		}
		rep.retryAfter, rep.header = f.RetryAfter, f.Header
		rep.write(w)
		return
	}
	rep := s.handle(k, tenant, w, r, hdr, now, pre)
	switch {
	case f.DropAfterRecord:
		note("drop-after-record")
		drop(w)
		return
	case f.Answer != nil:
		note("answer")
		rep = reply{status: http.StatusOK, body: f.Answer}
	}
	rep.write(w)
}
