package kafkarest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/aiorch/litewavemetric/internal/httpclient"
	"github.com/aiorch/litewavemetric/internal/usage"
)

// assertInOrder checks that the requests, one after another, carry exactly
// batch in order, keyed by id, with the values usage encodes.
func assertInOrder(t *testing.T, batch []usage.Event, reqs []request) {
	t.Helper()
	i := 0
	for _, r := range reqs {
		for j, key := range r.keys {
			require.Less(t, i, len(batch), "more records sent than in the batch")
			assert.Equal(t, `"`+batch[i].ID.String()+`"`, string(key), "record %d", i)
			assert.Equal(t, string(usage.AppendRecord(nil, &batch[i])), string(r.vals[j]), "record %d", i)
			i++
		}
	}
	assert.Equal(t, len(batch), i, "records sent")
}

func recordsPerRequest(reqs []request) []int {
	n := make([]int, len(reqs))
	for i, r := range reqs {
		n[i] = len(r.keys)
	}
	return n
}

func TestSendSplitsByCount(t *testing.T) {
	p := newProxy(t, confluentOK)
	b := p.backend(testTopic, 3, 1<<20)
	assert.Equal(t, 3, b.MaxBatch())
	batch := testEvents(7)
	out := newOutcomes(len(batch))
	b.Send(t.Context(), batch, out)

	reqs := p.requests()
	assert.Equal(t, []int{3, 3, 1}, recordsPerRequest(reqs))
	assertInOrder(t, batch, reqs)
	for _, r := range reqs {
		assert.Equal(t, "/topics/usage-events", r.uri)
	}
	for i, o := range out {
		require.Equal(t, usage.Delivered, o.Result, "record %d: %v", i, o.Err)
		assert.NoError(t, o.Err)
	}
	// Record 4 is the second of the second request.
	assert.JSONEq(t, `{"topic":"usage-events","partition":0,"offset":101}`, string(out[4].Answer))
	assert.NoError(t, b.Close())
}

// Requests are as full as maxBytes allows, and a record larger than
// maxBytes still goes, alone.
func TestSendSplitsByBytes(t *testing.T) {
	batch := testEvents(9) // records of several sizes
	for _, maxBytes := range []int{
		len(bodyOf(batch[:2])),
		len(bodyOf(batch[:3])) + 5,
		len(bodyOf(batch[:1])) - 1, // every record is too large
		1 << 20,
	} {
		p := newProxy(t, confluentOK)
		out := newOutcomes(len(batch))
		p.backend(testTopic, 100, maxBytes).Send(t.Context(), batch, out)

		reqs := p.requests()
		assertInOrder(t, batch, reqs)
		first := 0
		for _, r := range reqs {
			n := len(r.keys)
			if n > 1 {
				assert.LessOrEqual(t, len(r.body), maxBytes, "maxBytes %d", maxBytes)
			}
			assert.Equal(t, len(bodyOf(batch[first:first+n])), len(r.body))
			if end := first + n; end < len(batch) {
				assert.Greater(t, len(bodyOf(batch[first:end+1])), maxBytes,
					"maxBytes %d: request at record %d could have taken one more", maxBytes, first)
			}
			first += n
		}
		if maxBytes < len(bodyOf(batch[:1])) {
			assert.Len(t, reqs, len(batch), "each oversized record goes alone")
		}
		for i, o := range out {
			assert.Equal(t, usage.Delivered, o.Result, "maxBytes %d, record %d: %v", maxBytes, i, o.Err)
		}
	}
}

// The same events are the same bytes, on every attempt: a valid JSON body
// keyed by quoted ids, with every field a consumer needs in the value.
func TestBodyIsDeterministicJSON(t *testing.T) {
	p := newProxy(t, confluentOK)
	b := p.backend(testTopic, 10, 1<<20)
	batch := testEvents(4)
	b.Send(t.Context(), batch, newOutcomes(len(batch)))
	b.Send(t.Context(), batch, newOutcomes(len(batch)))

	reqs := p.requests()
	require.Len(t, reqs, 2)
	assert.Equal(t, reqs[0].body, reqs[1].body)

	var body struct {
		Records []struct {
			Key   string          `json:"key"`
			Value json.RawMessage `json:"value"`
		} `json:"records"`
	}
	require.NoError(t, json.Unmarshal(reqs[0].body, &body))
	require.Len(t, body.Records, len(batch))
	for i, rec := range body.Records {
		ev := batch[i]
		assert.Equal(t, ev.ID.String(), rec.Key)
		var v map[string]any
		require.NoError(t, json.Unmarshal(rec.Value, &v))
		assert.Equal(t, map[string]any{
			"meter_id":    ev.Key.Meter,
			"customer_id": ev.Customer,
			"total_usage": float64(ev.Units),
			"tenant_id":   ev.Key.Tenant,
			"device_id":   ev.Key.Device,
			"start_time":  time.Unix(0, ev.Start).UTC().Format(time.RFC3339Nano),
			"end_time":    time.Unix(0, ev.End).UTC().Format(time.RFC3339Nano),
		}, v)
	}
}

// The topic is path-escaped below the base URL, whose own path is kept.
func TestSendURL(t *testing.T) {
	p := newProxy(t, confluentOK)
	b := New(newClient(p.transport()), p.srv.URL+"/kafka", "usage events/eu", 10, 1<<20)
	out := newOutcomes(1)
	b.Send(t.Context(), testEvents(1), out)
	require.Len(t, p.requests(), 1)
	assert.Equal(t, "/kafka/topics/usage%20events%2Feu", p.requests()[0].uri)
	assert.Equal(t, usage.Delivered, out[0].Result, "%v", out[0].Err)
}

// Each Confluent per-record code, in one 200 answer.
func TestConfluentPerRecordCodes(t *testing.T) {
	p := newProxy(t, answerText(http.StatusOK, confluentMixed))
	batch := testEvents(confluentMixedRecords)
	out := newOutcomes(len(batch))
	p.backend(testTopic, 100, 1<<20).Send(t.Context(), batch, out)
	require.Len(t, p.requests(), 1)

	type want struct {
		result usage.Result
		config bool
		err    string // the whole message, or a part of it
	}
	wants := []want{
		{result: usage.Delivered},
		{usage.Retry, false, `kafka-rest produce to topic usage-events: record 1: error 50003: "Broker: Not enough in-sync replicas"`},
		{usage.Retry, false, `record 2: error 2`},
		{usage.Rejected, false, `kafka-rest produce to topic usage-events: record 3: error 50002: "Record too large"`},
		{usage.Rejected, false, `record 4: error 1`},
		{usage.Retry, true, `record 5: error 40101: "Authentication failed"; ` + aclFix},
		{usage.Retry, true, `record 6: error 40301: "Not authorized to access topics: [usage-events]"; ` + aclFix},
		{usage.Retry, false, `record 7: error 42901`},
		{usage.Retry, false, `record 8: error 0`},
		{usage.Retry, true, `record 9: error 50003: "Topic usage-events not present in metadata after 60000 ms."; topic usage-events does not exist: create it, or set LITEWAVE_KAFKA_TOPIC (KafkaConfig.Topic)`},
		{usage.Rejected, false, `record 10: error 50002`}, // 5.0002e4
		{result: usage.Delivered},
	}
	require.Len(t, wants, len(batch))
	for i, w := range wants {
		o := out[i]
		assert.Equal(t, w.result, o.Result, "record %d: %v", i, o.Err)
		if w.result == usage.Delivered {
			assert.NoError(t, o.Err)
			continue
		}
		require.Error(t, o.Err, "record %d", i)
		assert.Contains(t, o.Err.Error(), w.err, "record %d", i)
		assert.Equal(t, w.config, usage.IsConfig(o.Err), "record %d: IsConfig(%v)", i, o.Err)
		assert.Nil(t, o.Answer)
	}
	assert.Equal(t, `{"topic":"usage-events","partition":2,"offset":100}`, string(out[0].Answer))
	assert.Equal(t, `{"topic":"usage-events","partition":1,"offset":7}`, string(out[11].Answer))
	// Answers share a buffer, but appending to one cannot reach the next.
	_ = append(out[0].Answer, 'x')
	assert.Equal(t, `{"topic":"usage-events","partition":1,"offset":7}`, string(out[11].Answer))
}

// Redpanda answers per partition: all records are delivered when no
// partition failed; otherwise all are resent, with the same keys and bytes.
func TestRedpandaAnswers(t *testing.T) {
	t.Run("delivered", func(t *testing.T) {
		for _, answer := range []string{redpandaOK, `{"offsets":[{"partition":0,"offset":1},{"partition":1,"offset":9},{"partition":2,"offset":4}]}`} {
			p := newProxy(t, answerText(http.StatusOK, answer))
			batch := testEvents(3)
			out := newOutcomes(len(batch))
			p.backend(testTopic, 100, 1<<20).Send(t.Context(), batch, out)
			for i, o := range out {
				require.Equal(t, usage.Delivered, o.Result, "%s: record %d: %v", answer, i, o.Err)
				assert.Equal(t, `{"topic":"usage-events"}`, string(o.Answer))
			}
		}
	})
	t.Run("a partition failed", func(t *testing.T) {
		p := newProxy(t, answerText(http.StatusOK, redpandaFailed))
		b := p.backend(testTopic, 100, 1<<20)
		batch := testEvents(5)
		out := newOutcomes(len(batch))
		b.Send(t.Context(), batch, out)
		for i, o := range out {
			require.Equal(t, usage.Retry, o.Result, "record %d", i)
			require.Error(t, o.Err)
			assert.Contains(t, o.Err.Error(), "kafka-rest produce to topic usage-events: partition 0: error 6")
			assert.False(t, usage.IsConfig(o.Err))
		}
		b.Send(t.Context(), batch, newOutcomes(len(batch)))
		reqs := p.requests()
		require.Len(t, reqs, 2)
		assert.Equal(t, reqs[0].body, reqs[1].body, "the resend is the same records")
	})
}

// A missing topic is a configuration problem on both proxies.
func TestMissingTopic(t *testing.T) {
	for name, answer := range map[string]string{"confluent": confluentNoTopic, "redpanda": redpandaNoTopic} {
		p := newProxy(t, answerText(http.StatusOK, answer))
		batch := testEvents(3)
		out := newOutcomes(len(batch))
		p.backend(testTopic, 100, 1<<20).Send(t.Context(), batch, out)
		for i, o := range out {
			require.Equal(t, usage.Retry, o.Result, "%s: record %d", name, i)
			assert.True(t, usage.IsConfig(o.Err), "%s: record %d: %v", name, i, o.Err)
			assert.Contains(t, o.Err.Error(), "topic usage-events does not exist: create it, or set LITEWAVE_KAFKA_TOPIC (KafkaConfig.Topic)", name)
		}
	}
}

// A failed request gives all its records httpclient.Classify's outcome,
// and the next request is still sent.
func TestFailedRequests(t *testing.T) {
	cases := []struct {
		status int
		header http.Header
		result usage.Result
		config bool
		wait   time.Duration
	}{
		{status: http.StatusUnauthorized, result: usage.Retry, config: true},
		{status: http.StatusServiceUnavailable, header: http.Header{"Retry-After": {"7"}}, result: usage.Retry, wait: 7 * time.Second},
		{status: http.StatusUnprocessableEntity, result: usage.Rejected},
		{status: http.StatusTemporaryRedirect, header: http.Header{"Location": {"/elsewhere/topics/usage-events"}}, result: usage.Retry, config: true},
	}
	for _, c := range cases {
		// The first request fails, the second succeeds.
		p := newProxy(t, func(req, records int) (int, http.Header, string) {
			if req == 0 {
				return c.status, c.header, `{"error_code":` + strconv.Itoa(c.status) + `,"message":"` + http.StatusText(c.status) + `"}`
			}
			return confluentOK(req, records)
		})
		batch := testEvents(3)
		out := newOutcomes(len(batch))
		p.backend(testTopic, 2, 1<<20).Send(t.Context(), batch, out)

		assert.Equal(t, 2, p.callCount(), "HTTP %d: a redirect is not followed", c.status)
		for i, o := range out[:2] {
			assert.Equal(t, c.result, o.Result, "HTTP %d, record %d", c.status, i)
			var se *httpclient.StatusError
			require.ErrorAs(t, o.Err, &se, "HTTP %d, record %d", c.status, i)
			assert.Equal(t, c.status, se.StatusCode)
			assert.Equal(t, c.config, usage.IsConfig(o.Err), "HTTP %d: %v", c.status, o.Err)
			assert.Equal(t, c.wait, o.Wait, "HTTP %d", c.status)
		}
		assert.Equal(t, usage.Delivered, out[2].Result, "HTTP %d: %v", c.status, out[2].Err)
	}
}

// A 200 that cannot be read per record is never taken for success: every
// record of the request goes again, with the same keys and bytes (a
// possible duplicate, which consumers deduplicate by key, rather than a
// possible loss), and the outcome says so.
func TestUnreadableAnswerIsResent(t *testing.T) {
	cases := map[string]struct {
		header http.Header
		body   string
	}{
		"html":            {body: "<html>proxy error</html>"},
		"empty":           {body: ""},
		"no offsets":      {body: `{"offsets":[]}`},
		"binary":          {body: "\xff\x00\xfe"},
		"too few offsets": {body: `{"offsets":[{"partition":0,"offset":1,"error_code":null,"error":null}]}`},
		"2 MiB":           {body: `{"offsets":[` + strings.Repeat(" ", 2<<20) + `]}`},
		"cut short":       {header: http.Header{"Content-Length": {"100"}}, body: `{"offsets":[`},
	}
	for name, c := range cases {
		p := newProxy(t, func(req, records int) (int, http.Header, string) {
			if req == 0 {
				return http.StatusOK, c.header, c.body
			}
			return confluentOK(req, records)
		})
		b := p.backend(testTopic, 100, 1<<20)
		batch := testEvents(2)
		out := newOutcomes(len(batch))
		b.Send(t.Context(), batch, out)
		for i, o := range out {
			assert.Equal(t, usage.Retry, o.Result, "%s: record %d", name, i)
			require.Error(t, o.Err, name)
			assert.Contains(t, o.Err.Error(), "kafka-rest produce to topic usage-events: unreadable answer, sent again: ", name)
			assert.False(t, usage.IsConfig(o.Err), name)
		}
		t.Logf("%s: %v", name, out[0].Err)
		again := newOutcomes(len(batch))
		b.Send(t.Context(), batch, again)
		for i, o := range again {
			assert.Equal(t, usage.Delivered, o.Result, "%s: record %d: %v", name, i, o.Err)
		}
		reqs := p.requests()
		require.Len(t, reqs, 2, name)
		assert.Equal(t, reqs[0].body, reqs[1].body, "%s: resent byte for byte", name)
	}
}

var errStop = errors.New("exporter stopping")

func TestSendStopsWhenContextEnds(t *testing.T) {
	t.Run("before the first request", func(t *testing.T) {
		p := newProxy(t, confluentOK)
		ctx, cancel := context.WithCancelCause(t.Context())
		cancel(errStop)
		batch := testEvents(3)
		out := newOutcomes(len(batch))
		p.backend(testTopic, 2, 1<<20).Send(ctx, batch, out)
		assert.Zero(t, p.callCount())
		for _, o := range out {
			assert.Equal(t, usage.Retry, o.Result)
			assert.Equal(t, errStop, o.Err)
		}
	})
	t.Run("between requests", func(t *testing.T) {
		p := newProxy(t, confluentOK)
		ctx, cancel := context.WithCancelCause(t.Context())
		defer cancel(nil)
		rt := &cancelAfterAnswer{rt: p.transport(), cancel: func() { cancel(errStop) }}
		b := New(newClient(rt), p.srv.URL, testTopic, 2, 1<<20)
		batch := testEvents(5)
		out := newOutcomes(len(batch))
		b.Send(ctx, batch, out)
		assert.Equal(t, 1, p.callCount(), "no request after ctx ended")
		for i, o := range out[:2] {
			assert.Equal(t, usage.Delivered, o.Result, "record %d: %v", i, o.Err)
		}
		// Not attempted: the error is the cause itself, not a failed request.
		for i, o := range out[2:] {
			assert.Equal(t, usage.Retry, o.Result, "record %d", i+2)
			assert.Equal(t, errStop, o.Err)
		}
	})
}

// cancelAfterAnswer ends the Send's context once an answer has been read
// whole, as if the exporter were stopped while it was on the wire.
type cancelAfterAnswer struct {
	rt     http.RoundTripper
	cancel func()
}

func (c *cancelAfterAnswer) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := c.rt.RoundTrip(r)
	if err != nil {
		return nil, err
	}
	body, err := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if err != nil {
		return nil, err
	}
	resp.Body = io.NopCloser(bytes.NewReader(body))
	c.cancel()
	return resp, nil
}
