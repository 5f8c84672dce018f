package litewavetest

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"time"
)

// maxBody caps event bodies; real events are under 200 bytes.
const maxBody = 64 << 10

// bodyLimit is the body cap of requests of kind k, 0 for bodiless kinds.
func bodyLimit(k kind) int64 {
	switch k {
	case kindEvent:
		return maxBody
	case kindProduce:
		return maxProduceBody
	}
	return 0
}

// reply is a computed answer. Handlers return it instead of writing so that
// Fault.DropAfterRecord can process a request fully and still send nothing.
type reply struct {
	status      int
	body        []byte
	contentType string // empty means application/json
	retryAfter  string
	header      http.Header
}

func (rep reply) write(w http.ResponseWriter) {
	h := w.Header()
	for k, v := range rep.header {
		h[k] = v
	}
	if rep.contentType != "" {
		h.Set("Content-Type", rep.contentType)
	} else {
		h.Set("Content-Type", "application/json")
	}
	if rep.retryAfter != "" {
		h.Set("Retry-After", rep.retryAfter)
	}
	h.Set("Content-Length", strconv.Itoa(len(rep.body)))
	w.WriteHeader(rep.status)
	_, _ = w.Write(rep.body)
}

func detailJSON(msg string) []byte {
	b, _ := json.Marshal(struct {
		Detail string `json:"detail"`
	}{msg})
	return b
}

func errReply(status int, msg string) reply {
	return reply{status: status, body: detailJSON(msg)}
}

// bodyResult is a request body a delay fault read before stalling.
type bodyResult struct {
	b   []byte
	err error
}

// body returns the body pre read already, or reads it from r (pre nil).
func (pre *bodyResult) body(w http.ResponseWriter, r *http.Request, limit int64) ([]byte, error) {
	if pre != nil {
		return pre.b, pre.err
	}
	return readBody(w, r, limit)
}

// readBody reads at most limit bytes, sized from Content-Length so the
// common case is a single exact allocation.
func readBody(w http.ResponseWriter, r *http.Request, limit int64) ([]byte, error) {
	lr := http.MaxBytesReader(w, r.Body, limit)
	n := 512
	if r.ContentLength >= 0 && r.ContentLength <= limit {
		n = int(r.ContentLength) + 1 // +1 so EOF is seen without growing
	}
	b := make([]byte, 0, n)
	for {
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)]
		}
		m, err := lr.Read(b[len(b):cap(b)])
		b = b[:len(b)+m]
		if err == io.EOF {
			return b, nil
		}
		if err != nil {
			return b, err
		}
	}
}

// handle processes a routed request after faults: API key check, then the
// endpoint. name is the tenant of a lookup or the topic of a produce; pre is
// the body if it was already read.
func (s *Server) handle(k kind, name string, w http.ResponseWriter, r *http.Request, hdr []byte, now time.Time, pre *bodyResult) reply {
	if !s.authorized(k, r) {
		s.mu.Lock()
		s.stats.Unauthorized++
		s.mu.Unlock()
		if k == kindProduce {
			return kafkaErrReply(http.StatusUnauthorized, "missing or invalid x-api-key")
		}
		return errReply(http.StatusUnauthorized, "missing or invalid x-api-key")
	}
	switch k {
	case kindLookup, kindPortal:
		return s.lookup(name)
	case kindEvent:
		return s.event(w, r, hdr, now, pre)
	case kindProduce:
		return s.produce(name, w, r, now, pre)
	}
	return errReply(http.StatusNotFound, "not found")
}

func (s *Server) authorized(k kind, r *http.Request) bool {
	if k == kindPortal {
		return s.portalAuthorized(r)
	}
	return s.apiKey == "" || r.Header.Get("X-Api-Key") == s.apiKey
}

type account struct {
	ID       string `json:"id"`
	TenantID string `json:"tenant_id"`
}

func (s *Server) lookup(tenant string) reply {
	s.mu.Lock()
	cust, ok := s.customerLocked(tenant)
	s.mu.Unlock()
	if !ok {
		return errReply(http.StatusNotFound, "customer account not found")
	}
	b, _ := json.Marshal(account{ID: cust, TenantID: tenant})
	return reply{status: http.StatusOK, body: b}
}

// payload is the event body. total_usage is kept raw to reject floats and
// quoted numbers, which json.Number or int64 decoding would mask or
// mis-report.
type payload struct {
	MeterID    *string         `json:"meter_id"`
	TotalUsage json.RawMessage `json:"total_usage"`
	CustomerID *string         `json:"customer_id"`
}

// parseEvent validates the parts of an event that need no server state.
func parseEvent(body []byte) (meter, customer string, usage int64, msg string) {
	var p payload
	if err := json.Unmarshal(body, &p); err != nil {
		return "", "", 0, "invalid JSON body: " + err.Error()
	}
	if p.MeterID == nil || *p.MeterID == "" {
		return "", "", 0, "meter_id must be a non-empty string"
	}
	if usage, msg = parseUsage(p.TotalUsage); msg != "" {
		return "", "", 0, msg
	}
	if p.CustomerID == nil {
		return "", "", 0, "customer_id must be a string"
	}
	return *p.MeterID, *p.CustomerID, usage, ""
}

// parseUsage checks a raw total_usage: a JSON integer, not negative.
func parseUsage(raw json.RawMessage) (int64, string) {
	if len(raw) == 0 {
		return 0, "total_usage is required"
	}
	usage, err := strconv.ParseInt(string(raw), 10, 64)
	if err != nil {
		return 0, "total_usage must be an integer, got " + string(raw)
	}
	if usage < 0 {
		return 0, "total_usage must not be negative"
	}
	return usage, ""
}

// customerMismatchLocked explains why customer is not tenant's, or returns "".
// s.mu must be held.
func (s *Server) customerMismatchLocked(tenant, customer string) string {
	want, ok := s.customerLocked(tenant)
	if !ok {
		return "unknown tenant " + strconv.Quote(tenant)
	}
	if customer != want {
		return "customer_id " + strconv.Quote(customer) +
			" does not match the customer of tenant " + strconv.Quote(tenant)
	}
	return ""
}

func (s *Server) reject(status int, msg string) reply {
	s.mu.Lock()
	s.stats.Rejected++
	s.mu.Unlock()
	return errReply(status, msg)
}

func (s *Server) event(w http.ResponseWriter, r *http.Request, hdr []byte, now time.Time, pre *bodyResult) reply {
	tenant := r.Header.Get("X-Tenant-Id")
	device := r.Header.Get("X-Device-Id")
	if tenant == "" {
		return s.reject(http.StatusBadRequest, "x-tenant-id header is required")
	}
	if device == "" {
		return s.reject(http.StatusBadRequest, "x-device-id header is required")
	}
	body, err := pre.body(w, r, maxBody)
	if err != nil {
		if mbe := (*http.MaxBytesError)(nil); errors.As(err, &mbe) {
			return s.reject(http.StatusRequestEntityTooLarge, "body larger than 64 KiB")
		}
		return s.reject(http.StatusBadRequest, "reading body: "+err.Error())
	}
	meter, customer, usage, msg := parseEvent(body)
	if msg != "" {
		return s.reject(http.StatusBadRequest, msg)
	}
	key := r.Header.Get("Idempotency-Key")
	rec := eventRec{
		meter:    meter,
		customer: customer,
		usage:    usage,
		body:     body,
		hdr:      hdr,
		received: now,
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	if msg := s.customerMismatchLocked(tenant, customer); msg != "" {
		s.stats.Rejected++
		return errReply(http.StatusBadRequest, msg)
	}
	if key != "" {
		if i, seen := s.keys[key]; seen {
			first := &s.events[i]
			rec.id = first.id
			if !bytes.Equal(first.body, body) {
				s.stats.Conflicts++
				s.conflicts = append(s.conflicts, rec)
				return errReply(http.StatusUnprocessableEntity,
					"idempotency key reused with a different body")
			}
			rec.dup = true
			s.stats.Duplicates++
			s.events = append(s.events, rec)
			return eventReply(http.StatusOK, rec.id, "duplicate")
		}
	}
	s.nextID++
	rec.id = s.nextID
	if key != "" {
		s.keys[key] = len(s.events)
	}
	s.stats.Accepted++
	s.events = append(s.events, rec)
	s.totals[Series{Tenant: tenant, Device: device, Meter: meter}] += usage
	return eventReply(http.StatusCreated, rec.id, "accepted")
}

// eventReply builds {"id":"evt_<n>","status":"<status>"} without reflection;
// this is the hot path.
func eventReply(code int, id int64, status string) reply {
	b := make([]byte, 0, 48)
	b = append(b, `{"id":"evt_`...)
	b = strconv.AppendInt(b, id, 10)
	b = append(b, `","status":"`...)
	b = append(b, status...)
	b = append(b, `"}`...)
	return reply{status: code, body: b}
}
