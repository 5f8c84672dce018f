package main

import (
	"bytes"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// backend is the fastest server that speaks the API calls (lookups, events
// and REST Proxy produces): it checks nothing and records only counts, so
// that what is measured is the client.
type backend struct {
	URL      string
	srv      *http.Server
	latency  time.Duration // service time of every request
	lookups  atomic.Int64
	events   atomic.Int64
	produces atomic.Int64
	records  atomic.Int64
}

var (
	lookupAnswer = []byte(`{"id":"cus_bench"}`)
	eventAnswer  = []byte(`{"status":"accepted"}`)
)

func startBackend(latency time.Duration) (*backend, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	b := &backend{URL: "http://" + l.Addr().String(), latency: latency}
	b.srv = &http.Server{Handler: http.HandlerFunc(b.serve)}
	go func() { _ = b.srv.Serve(l) }()
	return b, nil
}

func (b *backend) serve(w http.ResponseWriter, r *http.Request) {
	if b.latency > 0 {
		time.Sleep(b.latency) // waiting, as on a database: no CPU
	}
	w.Header().Set("Content-Type", "application/json")
	if r.Method == http.MethodGet && strings.HasPrefix(r.URL.Path, "/api/v1/customer-accounts/tenant/") {
		b.lookups.Add(1)
		_, _ = w.Write(lookupAnswer)
		return
	}
	if strings.HasPrefix(r.URL.Path, "/topics/") {
		b.produce(w, r)
		return
	}
	_, _ = io.Copy(io.Discard, r.Body)
	b.events.Add(1)
	w.WriteHeader(http.StatusCreated)
	_, _ = w.Write(eventAnswer)
}

// produce answers a REST Proxy produce in Confluent's form, one offsets
// entry per record, counting records by their framing.
func (b *backend) produce(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	n := bytes.Count(body, []byte(`{"key":`))
	b.produces.Add(1)
	first := b.records.Add(int64(n)) - int64(n)
	answer := make([]byte, 0, 16+n*64)
	answer = append(answer, `{"offsets":[`...)
	for i := range n {
		if i > 0 {
			answer = append(answer, ',')
		}
		answer = append(answer, `{"partition":0,"offset":`...)
		answer = strconv.AppendInt(answer, first+int64(i), 10)
		answer = append(answer, `,"error_code":null,"error":null}`...)
	}
	answer = append(answer, `],"key_schema_id":null,"value_schema_id":null}`...)
	_, _ = w.Write(answer)
}

func (b *backend) reset() {
	b.lookups.Store(0)
	b.events.Store(0)
	b.produces.Store(0)
	b.records.Store(0)
}

func (b *backend) close() { _ = b.srv.Close() }
