package spool

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/aiorch/litewavemetric/internal/outbox"
	"github.com/aiorch/litewavemetric/internal/usage"
)

func sampleEvent(seq uint64) outbox.EventRecord {
	k := outbox.Key{Tenant: "tenant-1", Device: "dev-1", Meter: "pages.processed"}
	return outbox.EventRecord{Seq: seq, Key: k, Units: 42, Start: 100, End: 200,
		ID: usage.DeriveID("i", usage.Session{}, k, seq), Customer: "cus_1"}
}

func TestCodecRoundTrip(t *testing.T) {
	e := sampleEvent(7)
	got, err := decodeEvent(eventKey(7), encodeEvent(e))
	require.NoError(t, err)
	assert.Equal(t, e, got)

	o := outbox.OpenRecord{Key: e.Key, Units: 3, Start: 99, Rem: outbox.Remainder{Hi: 0.25, Lo: 1e-17}}
	gotO, err := decodeOpen(seriesKey(o.Key), encodeOpen(o))
	require.NoError(t, err)
	assert.Equal(t, o, gotO)

	p := outbox.RejectedRecord{Key: e.Key, Units: 5, Reason: "HTTP 400: \"unknown meter\"", Since: 12}
	gotP, err := decodeRejected(seriesKey(p.Key), encodeRejected(p))
	require.NoError(t, err)
	assert.Equal(t, p, gotP)

	s := outbox.StreamRecord{ID: outbox.StreamID{1, 2, 3}, Start: 5, Int: 1000, Float: 2.5}
	gotS, err := decodeStream(s.ID[:], encodeStream(s))
	require.NoError(t, err)
	assert.Equal(t, s, gotS)
}

// Every field the spool writes, it reads back, however long: limits are
// enforced where values enter the exporter, never when a record is read.
func TestLongFieldsRoundTrip(t *testing.T) {
	long := strings.Repeat("m", 10_000)
	e := sampleEvent(1)
	e.Key.Meter, e.Customer = long, long
	got, err := decodeEvent(eventKey(1), encodeEvent(e))
	require.NoError(t, err)
	assert.Equal(t, e, got)
	o := outbox.OpenRecord{Key: e.Key, Units: 1}
	gotO, err := decodeOpen(seriesKey(o.Key), encodeOpen(o))
	require.NoError(t, err)
	assert.Equal(t, o, gotO)
}

func TestCodecDetectsDamage(t *testing.T) {
	v := encodeEvent(sampleEvent(7))
	for i := range v {
		d := append([]byte(nil), v...)
		d[i] ^= 0x10
		_, err := decodeEvent(eventKey(7), d)
		assert.ErrorIs(t, err, errRecord, "flip at %d", i)
	}
	_, err := decodeEvent(eventKey(8), v)
	assert.ErrorIs(t, err, errRecord, "a record under another key is damage")
	_, err = decodeOpen(eventKey(7), v)
	assert.ErrorIs(t, err, errRecord, "an event is not an open record")
}

// FuzzDecode: any bytes decode to a record or an error, never a panic; what
// decodes re-encodes to the same bytes.
func FuzzDecode(f *testing.F) {
	f.Add(eventKey(7), encodeEvent(sampleEvent(7)))
	f.Add(seriesKey(sampleEvent(1).Key), encodeOpen(outbox.OpenRecord{Key: sampleEvent(1).Key, Units: 1}))
	f.Add([]byte{}, []byte{0, 0, 0, 0, 'E'})
	f.Add(seriesKey(sampleEvent(1).Key), encodeRejected(outbox.RejectedRecord{Key: sampleEvent(1).Key, Units: 1, Reason: "r"}))
	f.Add([]byte{1}, encodeStream(outbox.StreamRecord{ID: outbox.StreamID{1}}))
	f.Fuzz(func(t *testing.T, key, value []byte) {
		if e, err := decodeEvent(key, value); err == nil {
			if string(encodeEvent(e)) != string(value) {
				t.Fatalf("event %+v does not re-encode to its bytes", e)
			}
		}
		if o, err := decodeOpen(key, value); err == nil {
			if string(encodeOpen(o)) != string(value) {
				t.Fatalf("open record %+v does not re-encode to its bytes", o)
			}
		}
		if p, err := decodeRejected(key, value); err == nil {
			if string(encodeRejected(p)) != string(value) {
				t.Fatalf("rejected record %+v does not re-encode to its bytes", p)
			}
		}
		if s, err := decodeStream(key, value); err == nil {
			if string(encodeStream(s)) != string(value) {
				t.Fatalf("stream record %+v does not re-encode to its bytes", s)
			}
		}
	})
}
