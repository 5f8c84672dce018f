package litewavetest

import (
	"bytes"
	"net/http"
	"strconv"
	"time"
)

// Series identifies one billed time series.
type Series struct{ Tenant, Device, Meter string }

// Event is one recorded event post.
type Event struct {
	// ID is the id the server answered ("evt_<n>"); a duplicate carries the
	// id of the first event with its key.
	ID                                string
	Tenant, Device, Meter, CustomerID string
	TotalUsage                        int64
	IdempotencyKey                    string
	APIKey                            string
	// Body holds the exact bytes received.
	Body []byte
	// Header is a copy of the request headers.
	Header http.Header
	// Duplicate is set when the key was seen before with an identical body;
	// such events are not added to the totals.
	Duplicate bool
	Received  time.Time
}

// Record is one record a produce request kept (accepted or duplicate), or a
// conflicting one.
type Record struct {
	Topic string
	// Key and Value are the record's JSON as a proxy stores it (compacted):
	// a string key keeps its quotes. Key is nil for a keyless record.
	Key, Value []byte
	// Partition is where the record went, or was aimed for a conflict.
	Partition int32
	// Offset is the record's offset in its partition, -1 for a conflict.
	Offset int64
	// Duplicate is set when the key was accepted before on the topic with
	// an identical value; such records are not added to the totals.
	Duplicate bool
	Received  time.Time
}

// Request is one request that reached the handler, whatever its path.
type Request struct {
	Method, Path, RawPath, RequestURI string
	Header                            http.Header
	Received                          time.Time
}

// Stats counts what the server saw since construction.
type Stats struct {
	// Requests, Lookups, Posts and Produces count requests reaching the
	// handler (all paths, customer lookups on both paths, event posts,
	// produce requests).
	Requests, Lookups, Posts, Produces int64
	// Accepted, Duplicates and Conflicts count event outcomes.
	Accepted, Duplicates, Conflicts int64
	// RecordsAccepted, RecordDuplicates and RecordConflicts count produced
	// record outcomes. RecordErrors counts records answered as failed,
	// conflicts included (with WithRedpandaAnswers, every record of a
	// failed partition batch).
	RecordsAccepted, RecordDuplicates, RecordConflicts, RecordErrors int64
	// Rejected counts events answered 400 or 413, and produce requests
	// answered 400, 413, 415 or 422, for bad input.
	Rejected int64
	// Unauthorized counts requests answered 401 for a missing or wrong API key.
	Unauthorized int64
	// Aborted counts requests abandoned because the client went away (or
	// the server closed) during an injected delay.
	Aborted int64
	// Faults counts requests that had at least one fault effect applied.
	Faults int64
	// FaultsByKind counts applied effects by kind: "status:<code>",
	// "drop-before-read", "drop-after-record", "answer", "delay". A fault with several
	// effects counts once per effect.
	FaultsByKind map[string]int64
}

// eventRec is the compact in-memory form of an Event: the benchmark records
// 100k+ events, so headers stay packed, values that live in the headers
// (tenant, device, keys) are recovered from them on export, and the id is a
// number.
type eventRec struct {
	meter, customer string
	usage           int64
	id              int64
	body            []byte
	hdr             []byte // packHeader form, shared with the requestRec
	dup             bool
	received        time.Time
}

type recordRec struct {
	topic      string
	key, value []byte
	partition  int32
	offset     int64
	dup        bool
	received   time.Time
}

func (r *recordRec) export() Record {
	return Record{
		Topic:     r.topic,
		Key:       bytes.Clone(r.key),
		Value:     bytes.Clone(r.value),
		Partition: r.partition,
		Offset:    r.offset,
		Duplicate: r.dup,
		Received:  r.received,
	}
}

type requestRec struct {
	method, path, rawPath, requestURI string
	hdr                               []byte
	received                          time.Time
}

func (e *eventRec) export() Event {
	h := unpackHeader(e.hdr)
	return Event{
		ID:             eventID(e.id),
		Tenant:         h.Get("X-Tenant-Id"),
		Device:         h.Get("X-Device-Id"),
		Meter:          e.meter,
		CustomerID:     e.customer,
		TotalUsage:     e.usage,
		IdempotencyKey: h.Get("Idempotency-Key"),
		APIKey:         h.Get("X-Api-Key"),
		Body:           bytes.Clone(e.body),
		Header:         h,
		Duplicate:      e.dup,
		Received:       e.received,
	}
}

func eventID(n int64) string { return "evt_" + strconv.FormatInt(n, 10) }

// packHeader flattens h into "Key:value\n" lines. One allocation of a few
// hundred bytes instead of a cloned map per request; net/http rejects header
// names containing ':' and values containing '\n', so the form is unambiguous.
func packHeader(h http.Header) []byte {
	n := 0
	for k, vs := range h {
		for _, v := range vs {
			n += len(k) + len(v) + 2
		}
	}
	b := make([]byte, 0, n)
	for k, vs := range h {
		for _, v := range vs {
			b = append(b, k...)
			b = append(b, ':')
			b = append(b, v...)
			b = append(b, '\n')
		}
	}
	return b
}

func unpackHeader(b []byte) http.Header {
	h := make(http.Header, bytes.Count(b, []byte{'\n'}))
	for len(b) > 0 {
		line, rest, _ := bytes.Cut(b, []byte{'\n'})
		k, v, _ := bytes.Cut(line, []byte{':'})
		// Keys are stored as received (already canonical), so assign
		// directly rather than through Header.Add.
		h[string(k)] = append(h[string(k)], string(v))
		b = rest
	}
	return h
}

// Events returns a copy of every recorded event post (accepted or
// duplicate), in arrival order.
func (s *Server) Events() []Event {
	s.mu.Lock()
	recs := s.events[:len(s.events):len(s.events)]
	s.mu.Unlock()
	// Records are immutable once appended and the slice is only ever
	// appended to or replaced, so exporting outside the lock is safe.
	out := make([]Event, len(recs))
	for i := range recs {
		out[i] = recs[i].export()
	}
	return out
}

// Conflicts returns the events whose idempotency key was reused with a
// different body. They were answered 422 and never counted.
func (s *Server) Conflicts() []Event {
	s.mu.Lock()
	recs := s.conflicts[:len(s.conflicts):len(s.conflicts)]
	s.mu.Unlock()
	out := make([]Event, len(recs))
	for i := range recs {
		out[i] = recs[i].export()
	}
	return out
}

// Records returns a copy of every record produce requests kept (accepted
// or duplicate), in the order they were kept.
func (s *Server) Records() []Record {
	s.mu.Lock()
	recs := s.records[:len(s.records):len(s.records)]
	s.mu.Unlock()
	return exportRecords(recs)
}

// RecordConflicts returns the records whose key was accepted before on
// their topic with a different value. They were answered as failed and
// never counted.
func (s *Server) RecordConflicts() []Record {
	s.mu.Lock()
	recs := s.recordConflicts[:len(s.recordConflicts):len(s.recordConflicts)]
	s.mu.Unlock()
	return exportRecords(recs)
}

// exportRecords copies recs outside the lock, which is safe for the same
// reason as in Events.
func exportRecords(recs []recordRec) []Record {
	out := make([]Record, len(recs))
	for i := range recs {
		out[i] = recs[i].export()
	}
	return out
}

// Totals returns the usage per series of accepted events and records,
// counting each event idempotency key and each record key (per topic) once.
// Events and records without a key are always counted.
func (s *Server) Totals() map[Series]int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[Series]int64, len(s.totals))
	for k, v := range s.totals {
		out[k] = v
	}
	return out
}

// Total returns the sum of Totals.
func (s *Server) Total() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	var t int64
	for _, v := range s.totals {
		t += v
	}
	return t
}

// Requests returns every request that reached the handler, any path, in
// arrival order; use it to assert that no request hit an unexpected path.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	recs := s.requests[:len(s.requests):len(s.requests)]
	s.mu.Unlock()
	out := make([]Request, len(recs))
	for i, r := range recs {
		out[i] = Request{
			Method:     r.method,
			Path:       r.path,
			RawPath:    r.rawPath,
			RequestURI: r.requestURI,
			Header:     unpackHeader(r.hdr),
			Received:   r.received,
		}
	}
	return out
}

// Stats returns a snapshot of the counters.
func (s *Server) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.stats
	st.FaultsByKind = make(map[string]int64, len(s.faultsByKind))
	for k, v := range s.faultsByKind {
		st.FaultsByKind[k] = v
	}
	return st
}
