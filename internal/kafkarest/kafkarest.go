// Package kafkarest produces usage events as records on a topic through a
// Kafka REST Proxy v2: Confluent's, or Redpanda's proxy, which speaks the
// same request but answers per partition. Each record is keyed by its
// event's id, so a resent record lands on the same partition and a
// consumer dedupes it by key.
package kafkarest

import (
	"context"
	"errors"
	"net/http"
	"net/url"

	"github.com/aiorch/litewavemetric/internal/httpclient"
	"github.com/aiorch/litewavemetric/internal/usage"
)

// Path is below the proxy's base URL, followed by the topic.
const Path = "/topics/"

// op names a produce request in errors.
const op = "kafka-rest produce"

// Backend produces events to one topic. It is a usage.Backend.
type Backend struct {
	http       *httpclient.Client
	url        string
	topic      string
	maxRecords int
	maxBytes   int
}

var _ usage.Backend = (*Backend)(nil)

// New returns a Backend producing to topic through the proxy at baseURL
// (without a trailing slash), at most maxRecords records and maxBytes bytes
// of body per request.
func New(hc *httpclient.Client, baseURL, topic string, maxRecords, maxBytes int) *Backend {
	return &Backend{
		http:       hc,
		url:        baseURL + Path + url.PathEscape(topic),
		topic:      topic,
		maxRecords: maxRecords,
		maxBytes:   maxBytes,
	}
}

// MaxBatch is the most records one request carries.
func (b *Backend) MaxBatch() int { return b.maxRecords }

// Close does nothing: the transport belongs to whoever made hc.
func (b *Backend) Close() error { return nil }

// Send produces batch in as few requests as its limits allow, one after
// another: the outbox already runs Sends concurrently.
func (b *Backend) Send(ctx context.Context, batch []usage.Event, out []usage.Outcome) {
	for i := 0; i < len(batch); {
		if ctx.Err() != nil {
			rest := usage.Outcome{Result: usage.Retry, Err: context.Cause(ctx)}
			for j := i; j < len(batch); j++ {
				out[j] = rest
			}
			return
		}
		body := httpclient.NewBody()
		var n int
		body.B, n = appendBody(body.B, batch[i:], b.maxRecords, b.maxBytes)
		b.produce(ctx, i, body, out[i:i+n])
		i += n
	}
}

// produce sends the records of batch[first:first+len(out)], encoded in
// body, in one request.
func (b *Backend) produce(ctx context.Context, first int, body *httpclient.Body, out []usage.Outcome) {
	err := b.http.Exchange(ctx, op, http.MethodPost, b.url, body, setHeaders, func(answer []byte) {
		b.parseAnswer(first, answer, out)
	})
	var ae *httpclient.AnswerError
	switch {
	case errors.As(err, &ae):
		b.resend(out, err)
	case err != nil:
		o := httpclient.Classify(err)
		for i := range out {
			out[i] = o
		}
	}
}

func setHeaders(h http.Header) {
	// Canonical keys set directly: Header.Set would canonicalise (and
	// allocate) them on every request.
	h["Content-Type"] = []string{"application/vnd.kafka.json.v2+json"}
	h["Accept"] = []string{"application/vnd.kafka.v2+json"}
}
