package httpclient

import (
	"errors"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
)

// Body is a request body whose buffer comes from a pool and goes back to
// it once nothing can read it: net/http may read, or read again, a
// request's body after Do returns, so the buffer returns only when every
// reader the transport took of it is closed and Exchange has returned.
// Large collections send many large bodies: allocating each anew made the
// collector run during the flush.
type Body struct {
	// B is what is sent; append to it (NewBody gives it empty).
	B    []byte
	refs atomic.Int32
}

var bodies = sync.Pool{New: func() any { return new(Body) }}

// NewBody returns an empty Body from the pool, for one Exchange.
func NewBody() *Body {
	b := bodies.Get().(*Body)
	b.B = b.B[:0]
	b.refs.Store(1)
	return b
}

func (b *Body) release() {
	if b.refs.Add(-1) == 0 {
		bodies.Put(b)
	}
}

// attach makes b req's body, its length known and readable again
// (GetBody) when the transport retries on a new connection.
func (b *Body) attach(req *http.Request) {
	req.ContentLength = int64(len(b.B))
	req.Body = b.reader()
	req.GetBody = func() (io.ReadCloser, error) { return b.reader(), nil }
}

func (b *Body) reader() *bodyReader {
	b.refs.Add(1)
	return &bodyReader{body: b}
}

// errBodyClosed is what a read of a closed body returns.
var errBodyClosed = errors.New("httpclient: read of a closed request body")

// bodyReader is one pass over a Body. Its lock keeps Close from handing the
// buffer back while a read (which the transport may run on another
// goroutine than Close) still copies from it.
type bodyReader struct {
	mu   sync.Mutex
	body *Body // nil once closed
	off  int
}

func (r *bodyReader) Read(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.body == nil {
		return 0, errBodyClosed
	}
	if r.off >= len(r.body.B) {
		return 0, io.EOF
	}
	n := copy(p, r.body.B[r.off:])
	r.off += n
	return n, nil
}

// WriteTo writes the rest in one call, so that copying the body to the
// connection needs no buffer of its own.
func (r *bodyReader) WriteTo(w io.Writer) (int64, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.body == nil {
		return 0, errBodyClosed
	}
	n, err := w.Write(r.body.B[r.off:])
	r.off += n
	return int64(n), err
}

// Close hands the buffer back once no other reader holds it; closing
// twice is harmless.
func (r *bodyReader) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.body != nil {
		r.body.release()
		r.body = nil
	}
	return nil
}
