// Package events speaks Litewave's events API: one POST per usage event,
// tenant and device in headers, meter, integer usage and customer in the
// body, and the event's id as its Idempotency-Key.
package events

import (
	"context"
	"net/http"
	"strconv"

	"github.com/aiorch/litewavemetric/internal/httpclient"
	"github.com/aiorch/litewavemetric/internal/usage"
)

// Path is where events are posted, below the endpoint.
const Path = "/api/v1/events"

// Backend posts events to the events API. It is a usage.Backend.
type Backend struct {
	http *httpclient.Client
	url  string
}

var _ usage.Backend = (*Backend)(nil)

// New returns a Backend posting to endpoint (a base URL without a trailing
// slash) through hc.
func New(hc *httpclient.Client, endpoint string) *Backend {
	return &Backend{http: hc, url: endpoint + Path}
}

// MaxBatch is 1: the API takes one event per request.
func (b *Backend) MaxBatch() int { return 1 }

// Send posts each event of batch.
func (b *Backend) Send(ctx context.Context, batch []usage.Event, out []usage.Outcome) {
	for i := range batch {
		out[i] = b.post(ctx, &batch[i])
	}
}

// Close does nothing: the transport belongs to whoever made hc.
func (b *Backend) Close() error { return nil }

func (b *Backend) post(ctx context.Context, ev *usage.Event) usage.Outcome {
	body := AppendBody(make([]byte, 0, 96+len(ev.Key.Meter)+len(ev.Customer)), ev)
	// The status decides: a 2xx whose body is too large, empty or cut short
	// has still recorded the event, and a resend would bill it twice.
	answer, err := b.http.Deliver(ctx, "usage post", http.MethodPost, b.url, body, func(h http.Header) {
		// Canonical keys set directly: Header.Set would canonicalise (and
		// allocate) them on every event.
		h["Content-Type"] = []string{"application/json"}
		h["X-Tenant-Id"] = []string{ev.Key.Tenant}
		h["X-Device-Id"] = []string{ev.Key.Device}
		if !ev.ID.IsZero() {
			h["Idempotency-Key"] = []string{ev.ID.String()}
		}
	})
	if err != nil {
		return httpclient.Classify(err)
	}
	return usage.Outcome{Result: usage.Delivered, Answer: answer}
}

// AppendBody appends the JSON body of ev to dst, in a fixed order, so that
// a retried event is byte for byte the event first sent:
//
//	{"meter_id":"…","total_usage":N,"customer_id":"…"}
func AppendBody(dst []byte, ev *usage.Event) []byte {
	dst = append(dst, `{"meter_id":`...)
	dst = usage.AppendString(dst, ev.Key.Meter)
	dst = append(dst, `,"total_usage":`...)
	dst = strconv.AppendInt(dst, ev.Units, 10)
	dst = append(dst, `,"customer_id":`...)
	dst = usage.AppendString(dst, ev.Customer)
	return append(dst, '}')
}
