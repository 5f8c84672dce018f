package spool

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"math"

	"github.com/aiorch/litewavemetric/internal/outbox"
)

// Record kinds, the first byte of every payload.
const (
	kindEvent    byte = 'E'
	kindOpen     byte = 'O'
	kindRejected byte = 'P'
	kindStream   byte = 'S'
)

// maxField bounds a string field when decoding. Writers are bounded far
// below it where values enter the exporter (ids, meters and customers at
// 255 bytes, reasons at 1 KiB), so every field written is read back; the
// bound only stops a damaged length from allocating gigabytes.
const maxField = 1 << 16

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// errRecord is wrapped by every decoding error.
var errRecord = errors.New("damaged record")

func eventKey(seq uint64) []byte { return binary.BigEndian.AppendUint64(nil, seq) }

func seriesKey(k outbox.Key) []byte { return appendKey(nil, k) }

func appendKey(b []byte, k outbox.Key) []byte {
	for _, f := range [...]string{k.Tenant, k.Device, k.Meter} {
		b = appendString(b, f)
	}
	return b
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func appendU64(b []byte, v uint64) []byte { return binary.BigEndian.AppendUint64(b, v) }

// seal prefixes a payload with its CRC-32C.
func seal(payload []byte) []byte {
	out := make([]byte, 4, 4+len(payload))
	binary.BigEndian.PutUint32(out, crc32.Checksum(payload, castagnoli))
	return append(out, payload...)
}

func keySize(k outbox.Key) int {
	return 3*binary.MaxVarintLen64 + len(k.Tenant) + len(k.Device) + len(k.Meter)
}

func encodeEvent(r outbox.EventRecord) []byte {
	return appendEvent(make([]byte, 0, eventSize(r)), r)
}

// eventSize bounds the bytes of r's record.
func eventSize(r outbox.EventRecord) int {
	return 4 + 1 + 8 + keySize(r.Key) + 3*8 + len(r.ID) + binary.MaxVarintLen64 + len(r.Customer)
}

// appendEvent appends r's record, as encodeEvent makes it, to b: a
// collection's records fill a few large buffers rather than one each.
func appendEvent(b []byte, r outbox.EventRecord) []byte {
	start := len(b)
	b = append(b, 0, 0, 0, 0, kindEvent) // the CRC, filled in below
	b = appendU64(b, r.Seq)
	b = appendKey(b, r.Key)
	b = appendU64(b, uint64(r.Units))
	b = appendU64(b, uint64(r.Start))
	b = appendU64(b, uint64(r.End))
	b = append(b, r.ID[:]...)
	b = appendString(b, r.Customer)
	binary.BigEndian.PutUint32(b[start:], crc32.Checksum(b[start+4:], castagnoli))
	return b
}

func encodeOpen(r outbox.OpenRecord) []byte {
	b := make([]byte, 0, 40+keySize(r.Key))
	b = append(b, kindOpen)
	b = appendKey(b, r.Key)
	b = appendU64(b, uint64(r.Units))
	b = appendU64(b, uint64(r.Start))
	b = appendU64(b, math.Float64bits(r.Rem.Hi))
	b = appendU64(b, math.Float64bits(r.Rem.Lo))
	return seal(b)
}

func encodeRejected(r outbox.RejectedRecord) []byte {
	b := make([]byte, 0, 24+keySize(r.Key)+len(r.Reason))
	b = append(b, kindRejected)
	b = appendKey(b, r.Key)
	b = appendU64(b, uint64(r.Units))
	b = appendU64(b, uint64(r.Since))
	b = appendString(b, r.Reason)
	return seal(b)
}

func encodeStream(r outbox.StreamRecord) []byte {
	b := make([]byte, 0, 48)
	b = append(b, kindStream)
	b = append(b, r.ID[:]...)
	b = appendU64(b, uint64(r.Start))
	b = appendU64(b, uint64(r.Int))
	b = appendU64(b, math.Float64bits(r.Float))
	return seal(b)
}

// reader decodes a payload; the first error sticks.
type reader struct {
	b   []byte
	err error
}

func (r *reader) fail(what string) {
	if r.err == nil {
		r.err = fmt.Errorf("%w: truncated or malformed %s", errRecord, what)
	}
}

func (r *reader) u64(what string) uint64 {
	if r.err != nil || len(r.b) < 8 {
		r.fail(what)
		return 0
	}
	v := binary.BigEndian.Uint64(r.b)
	r.b = r.b[8:]
	return v
}

func (r *reader) bytes16(what string) (v [16]byte) {
	if r.err != nil || len(r.b) < len(v) {
		r.fail(what)
		return v
	}
	copy(v[:], r.b)
	r.b = r.b[len(v):]
	return v
}

func (r *reader) str(what string) string {
	if r.err != nil {
		return ""
	}
	n, w := binary.Uvarint(r.b)
	if w <= 0 || n > maxField || uint64(len(r.b)-w) < n {
		r.fail(what)
		return ""
	}
	s := string(r.b[w : w+int(n)])
	r.b = r.b[w+int(n):]
	return s
}

func (r *reader) key() outbox.Key {
	return outbox.Key{Tenant: r.str("tenant"), Device: r.str("device"), Meter: r.str("meter")}
}

// open checks a sealed value's CRC and kind and returns a reader over the
// rest of its payload.
func open(value []byte, kind byte) (*reader, error) {
	if len(value) < 5 {
		return nil, fmt.Errorf("%w: %d bytes", errRecord, len(value))
	}
	payload := value[4:]
	if crc32.Checksum(payload, castagnoli) != binary.BigEndian.Uint32(value) {
		return nil, fmt.Errorf("%w: checksum mismatch", errRecord)
	}
	if payload[0] != kind {
		return nil, fmt.Errorf("%w: kind %q, want %q", errRecord, payload[0], kind)
	}
	return &reader{b: payload[1:]}, nil
}

func (r *reader) done() error {
	if r.err == nil && len(r.b) != 0 {
		r.err = fmt.Errorf("%w: %d trailing bytes", errRecord, len(r.b))
	}
	return r.err
}

// decodeEvent decodes an event record stored under key.
func decodeEvent(key, value []byte) (outbox.EventRecord, error) {
	var e outbox.EventRecord
	r, err := open(value, kindEvent)
	if err != nil {
		return e, err
	}
	e.Seq = r.u64("seq")
	e.Key = r.key()
	e.Units = int64(r.u64("units"))
	e.Start = int64(r.u64("window start"))
	e.End = int64(r.u64("window end"))
	e.ID = r.bytes16("id")
	e.Customer = r.str("customer")
	if err := r.done(); err != nil {
		return e, err
	}
	switch {
	case string(key) != string(eventKey(e.Seq)):
		return e, fmt.Errorf("%w: stored under key %x, holds seq %d", errRecord, key, e.Seq)
	case e.Units <= 0:
		return e, fmt.Errorf("%w: %d units", errRecord, e.Units)
	case e.ID.IsZero():
		return e, fmt.Errorf("%w: no id", errRecord)
	}
	return e, nil
}

// decodeOpen decodes an open record stored under key.
func decodeOpen(key, value []byte) (outbox.OpenRecord, error) {
	var o outbox.OpenRecord
	r, err := open(value, kindOpen)
	if err != nil {
		return o, err
	}
	o.Key = r.key()
	o.Units = int64(r.u64("units"))
	o.Start = int64(r.u64("window start"))
	o.Rem.Hi = math.Float64frombits(r.u64("fraction"))
	o.Rem.Lo = math.Float64frombits(r.u64("fraction"))
	if err := r.done(); err != nil {
		return o, err
	}
	switch {
	case string(key) != string(seriesKey(o.Key)):
		return o, fmt.Errorf("%w: stored under another key", errRecord)
	case o.Units < 0:
		return o, fmt.Errorf("%w: %d units", errRecord, o.Units)
	case math.IsNaN(o.Rem.Value()) || math.Abs(o.Rem.Value()) >= 1:
		return o, fmt.Errorf("%w: fraction %v", errRecord, o.Rem.Value())
	}
	return o, nil
}

// decodeRejected decodes a rejected record stored under key.
func decodeRejected(key, value []byte) (outbox.RejectedRecord, error) {
	var p outbox.RejectedRecord
	r, err := open(value, kindRejected)
	if err != nil {
		return p, err
	}
	p.Key = r.key()
	p.Units = int64(r.u64("units"))
	p.Since = int64(r.u64("since"))
	p.Reason = r.str("reason")
	if err := r.done(); err != nil {
		return p, err
	}
	switch {
	case string(key) != string(seriesKey(p.Key)):
		return p, fmt.Errorf("%w: stored under another key", errRecord)
	case p.Units <= 0:
		return p, fmt.Errorf("%w: %d units", errRecord, p.Units)
	}
	return p, nil
}

// decodeStream decodes a stream record stored under key.
func decodeStream(key, value []byte) (outbox.StreamRecord, error) {
	var s outbox.StreamRecord
	r, err := open(value, kindStream)
	if err != nil {
		return s, err
	}
	s.ID = r.bytes16("stream id")
	s.Start = int64(r.u64("start"))
	s.Int = int64(r.u64("value"))
	s.Float = math.Float64frombits(r.u64("value"))
	if err := r.done(); err != nil {
		return s, err
	}
	switch {
	case string(key) != string(s.ID[:]):
		return s, fmt.Errorf("%w: stored under another key", errRecord)
	case s.Int < 0 || s.Float < 0 || math.IsNaN(s.Float) || math.IsInf(s.Float, 0):
		return s, fmt.Errorf("%w: stream value %d / %v", errRecord, s.Int, s.Float)
	}
	return s, nil
}
