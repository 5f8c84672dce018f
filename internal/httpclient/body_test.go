package httpclient

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/aiorch/litewavemetric/internal/redact"
)

// lateReader answers every request at once and keeps its body, as
// net/http may (it writes a body on another goroutine, and retries on a
// new connection through GetBody), for the test to read after Exchange
// has returned.
type lateReader struct{ reqs []*http.Request }

func (l *lateReader) RoundTrip(req *http.Request) (*http.Response, error) {
	l.reqs = append(l.reqs, req)
	return &http.Response{StatusCode: http.StatusOK, Body: http.NoBody, ContentLength: 0, Request: req}, nil
}

// A body's buffer is reused only once every reader the transport took of
// it is closed: bodies taken and overwritten meanwhile never change what
// the transport still sends, first or again.
func TestExchangeKeepsABodyTheTransportMayStillRead(t *testing.T) {
	for round := range 20 {
		rt := &lateReader{}
		c := New(nil, rt, redact.Secret{}, time.Minute, Target{Setting: "LITEWAVE_KAFKA_REST_URL"})
		sent := fmt.Appendf(nil, `{"records":[%d]}`, round)
		body := NewBody()
		body.B = append(body.B, sent...)
		require.NoError(t, c.Exchange(t.Context(), "produce", http.MethodPost, "http://proxy.invalid/topics/t", body, nil, func([]byte) {}))
		require.Len(t, rt.reqs, 1)
		req := rt.reqs[0]
		assert.Equal(t, int64(len(sent)), req.ContentLength)
		again, err := req.GetBody()
		require.NoError(t, err)

		// Bodies the next requests take, and overwrite, meanwhile.
		for range 4 {
			other := NewBody()
			other.B = append(other.B, bytes.Repeat([]byte("x"), len(sent))...)
			other.release()
		}
		first, err := io.ReadAll(req.Body)
		require.NoError(t, err)
		require.NoError(t, req.Body.Close())
		assert.Equal(t, string(sent), string(first), "round %d: the body as first sent", round)

		for range 4 {
			other := NewBody()
			other.B = append(other.B, bytes.Repeat([]byte("y"), len(sent))...)
			other.release()
		}
		var resent bytes.Buffer
		_, err = again.(io.WriterTo).WriteTo(&resent)
		require.NoError(t, err)
		require.NoError(t, again.Close())
		require.NoError(t, again.Close(), "closing twice is harmless")
		assert.Equal(t, string(sent), resent.String(), "round %d: the body as sent again", round)
		_, err = again.Read(make([]byte, 1))
		assert.ErrorIs(t, err, errBodyClosed)
	}
}

// Over real connections, requests in flight at once each send their own
// body and read their own answer, whether the answer has a Content-Length
// or comes in chunks, although bodies and answers come from shared pools.
func TestExchangeSendsAndReadsItsOwnBytes(t *testing.T) {
	echo := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, err := io.ReadAll(r.Body)
		if err != nil {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		if r.URL.Query().Get("chunked") == "" {
			w.Header().Set("Content-Length", strconv.Itoa(len(b)))
			_, _ = w.Write(b)
			return
		}
		for len(b) > 0 { // in pieces, without a Content-Length
			n := min(len(b), 1000)
			_, _ = w.Write(b[:n])
			_ = http.NewResponseController(w).Flush()
			b = b[n:]
		}
	})
	c, url := newTestClient(t, echo, 10*time.Second)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 25 {
				sent := bytes.Repeat(fmt.Appendf(nil, "%d-%d;", g, i), 1+(g*25+i)*37)
				body := NewBody()
				body.B = append(body.B, sent...)
				u := url
				if i%2 == 1 {
					u += "?chunked=1"
				}
				var got []byte
				err := c.Exchange(context.Background(), "produce", http.MethodPost, u, body, nil, func(answer []byte) {
					got = append(got, answer...)
				})
				assert.NoError(t, err)
				assert.Equal(t, string(sent), string(got), "request %d of %d", i, g)
			}
		})
	}
	wg.Wait()
}

// A 2xx answer that cannot be read whole is Do's error, and read is not
// called with part of it.
func TestExchangeRefusesAnAnswerItCannotReadWhole(t *testing.T) {
	for name, why := range map[string]string{"2 MiB": "larger than 1048576 bytes", "cut short": "cut short: unexpected EOF"} {
		c, url := newTestClient(t, odd2xx[name], 10*time.Second)
		body := NewBody()
		body.B = append(body.B, `{}`...)
		err := c.Exchange(context.Background(), "produce", http.MethodPost, url, body, nil, func([]byte) {
			t.Errorf("%s: read called", name)
		})
		var ae *AnswerError
		require.ErrorAs(t, err, &ae, name)
		assert.EqualError(t, err, "produce: HTTP 200 answer "+why, name)
	}
}

// A 307 answer is the answer (redirects are not followed), and the body
// net/http took again for the redirect it did not send is closed: the
// buffer goes back to the pool once the transport is done with it.
func TestExchangeGivesABodyBackAfterARedirect(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Location", "/elsewhere")
		w.WriteHeader(http.StatusTemporaryRedirect)
	}))
	defer srv.Close()
	c := New(nil, srv.Client().Transport, redact.Secret{}, time.Minute, Target{Setting: "LITEWAVE_KAFKA_REST_URL"})
	body := NewBody()
	body.B = append(body.B, `{"records":[]}`...)
	var se *StatusError
	require.ErrorAs(t, c.Exchange(t.Context(), "produce", http.MethodPost, srv.URL+"/topics/t", body, nil, func([]byte) {}), &se)
	assert.Equal(t, http.StatusTemporaryRedirect, se.StatusCode)
	require.Eventually(t, func() bool { return body.refs.Load() == 0 }, 10*time.Second, time.Millisecond,
		"every reader of the body is closed")
}
