package spool

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/aiorch/litewavemetric/internal/outbox"
)

func sampleEvent(seq uint64) outbox.EventRecord {
	k := outbox.Key{Tenant: "tenant-1", Device: "dev-1", Meter: "pages.processed"}
	return outbox.EventRecord{Seq: seq, Key: k, Units: 42, End: 200,
		ID: outbox.DeriveID("i", k, 200), Customer: "cus_1"}
}

func TestCodecRoundTrip(t *testing.T) {
	e := sampleEvent(7)
	got, err := decodeEvent(eventKey(7), encodeEvent(e))
	require.NoError(t, err)
	assert.Equal(t, e, got)

	o := outbox.OpenRecord{Key: e.Key, Units: 3, Rem: outbox.Remainder{Hi: 0.25, Lo: 1e-17}}
	gotO, err := decodeOpen(openKey(o.Key), encodeOpen(o))
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
	f.Add(openKey(sampleEvent(1).Key), encodeOpen(outbox.OpenRecord{Key: sampleEvent(1).Key, Units: 1}))
	f.Add([]byte{}, []byte{0, 0, 0, 0, 'E'})
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
	})
}
