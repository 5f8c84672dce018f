package httpclient

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/aiorch/litewavemetric/internal/redact"
)

// odd2xx are 2xx answers whose body a caller cannot use as is.
var odd2xx = map[string]http.HandlerFunc{
	"2 MiB": func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write(bytes.Repeat([]byte("x"), 2<<20))
	},
	"empty": func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusOK) },
	"binary": func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte{0xff, 0x00, 0xfe, 0x89, 'P', 'N', 'G'})
	},
	// Content-Length promises more than arrives: the read fails.
	"cut short": func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Length", "100")
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write([]byte(`{"id":`))
		_ = http.NewResponseController(w).Flush()
		panic(http.ErrAbortHandler) // closes the connection mid-body
	},
}

func newTestClient(t *testing.T, h http.Handler, timeout time.Duration) (*Client, string) {
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	c := New(nil, srv.Client().Transport, redact.Secret{}, timeout, Target{Setting: "LITEWAVE_ENDPOINT"})
	t.Cleanup(c.CloseIdleConnections)
	return c, srv.URL
}

// A delivery's 2xx is delivery whatever its body: Deliver never fails on
// it and keeps at most MaxAnswerBytes of it.
func TestDeliverTakesAnyTwoXX(t *testing.T) {
	for name, h := range odd2xx {
		t.Run(name, func(t *testing.T) {
			c, url := newTestClient(t, h, 10*time.Second)
			answer, err := c.Deliver(context.Background(), "usage post", http.MethodPost, url, []byte(`{}`), nil)
			require.NoError(t, err)
			assert.LessOrEqual(t, len(answer), MaxAnswerBytes)
			switch name {
			case "2 MiB":
				assert.Equal(t, bytes.Repeat([]byte("x"), MaxAnswerBytes), answer, "the start is kept")
			case "binary":
				assert.Equal(t, []byte{0xff, 0x00, 0xfe, 0x89, 'P', 'N', 'G'}, answer)
			case "cut short":
				assert.Equal(t, `{"id":`, string(answer), "what arrived is kept")
			default:
				assert.Empty(t, answer)
			}
		})
	}
}

// Callers that must read the answer whole (a customer lookup, a REST
// Proxy's per-record answer) still get an error for one too large or cut
// short.
func TestDoRefusesAnAnswerItCannotReadWhole(t *testing.T) {
	for name, why := range map[string]string{"2 MiB": "larger than 1048576 bytes", "cut short": "cut short: unexpected EOF"} {
		c, url := newTestClient(t, odd2xx[name], 10*time.Second)
		_, err := c.Do(context.Background(), "customer lookup", http.MethodGet, url, nil, nil)
		var ae *AnswerError
		require.ErrorAs(t, err, &ae, name)
		assert.Equal(t, http.StatusOK, ae.StatusCode)
		assert.EqualError(t, err, "customer lookup: HTTP 200 answer "+why, name)
	}
	c, url := newTestClient(t, odd2xx["binary"], 10*time.Second)
	b, err := c.Do(context.Background(), "customer lookup", http.MethodGet, url, nil, nil)
	require.NoError(t, err, "a body read whole is the caller's to judge")
	assert.Len(t, b, 7)
}

// A body that never ends is read up to the cap only: Deliver returns
// without waiting for its timeout, which is long enough to hang the test.
func TestDeliverReadsABoundedPrefix(t *testing.T) {
	written := make(chan int64, 1)
	endless := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		chunk := bytes.Repeat([]byte("y"), 32<<10)
		var n int64
		for {
			m, err := w.Write(chunk)
			n += int64(m)
			if err != nil {
				written <- n
				return
			}
		}
	})
	c, url := newTestClient(t, endless, time.Hour)
	// Ends a read that goes on, if the test fails, before the server
	// closes.
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	done := make(chan error, 1)
	var answer []byte
	go func() {
		var err error
		answer, err = c.Deliver(ctx, "usage post", http.MethodPost, url, []byte(`{}`), nil)
		done <- err
	}()
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(10 * time.Second):
		t.Fatal("Deliver still reading an endless answer after 10s")
	}
	assert.Len(t, answer, MaxAnswerBytes)
	select {
	case n := <-written:
		t.Logf("the server wrote %d bytes before the client hung up", n)
	case <-time.After(10 * time.Second):
		t.Fatal("the connection was kept open after an answer read in part")
	}
}

// Non-2xx answers fail Deliver as they fail Do.
func TestDeliverFailsOnOtherStatuses(t *testing.T) {
	c, url := newTestClient(t, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "busy", http.StatusServiceUnavailable)
	}), 10*time.Second)
	_, err := c.Deliver(context.Background(), "usage post", http.MethodPost, url, []byte(`{}`), nil)
	var se *StatusError
	require.True(t, errors.As(err, &se))
	assert.Equal(t, http.StatusServiceUnavailable, se.StatusCode)
}
