package outbox

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
)

// Key identifies a series: what the backend bills as one line.
type Key struct {
	Tenant, Device, Meter string
}

// ID is an event's idempotency id: an RFC 9562 version 8 UUID whose bits are
// the SHA-256 of the instance, the series and the event's window. The same
// event always gets the same id; two events never share one.
type ID [16]byte

// IsZero reports whether the id has not been derived yet.
func (id ID) IsZero() bool { return id == ID{} }

// String formats the id as a UUID.
func (id ID) String() string {
	var b [36]byte
	hex.Encode(b[0:8], id[0:4])
	b[8] = '-'
	hex.Encode(b[9:13], id[4:6])
	b[13] = '-'
	hex.Encode(b[14:18], id[6:8])
	b[18] = '-'
	hex.Encode(b[19:23], id[8:10])
	b[23] = '-'
	hex.Encode(b[24:], id[10:])
	return string(b[:])
}

// DeriveID computes the id of the event of series k whose window ends at
// wall-clock time end (Unix nanoseconds). Window ends are strictly
// increasing per exporter, so the end identifies the window.
func DeriveID(instance string, k Key, end int64) ID {
	var buf [192]byte
	b := buf[:0]
	for _, f := range [...]string{"litewave-event-v1", instance, k.Tenant, k.Device, k.Meter} {
		b = binary.AppendUvarint(b, uint64(len(f)))
		b = append(b, f...)
	}
	b = binary.BigEndian.AppendUint64(b, uint64(end))
	sum := sha256.Sum256(b)
	var id ID
	copy(id[:], sum[:16])
	id[6] = id[6]&0x0f | 0x80 // version 8
	id[8] = id[8]&0x3f | 0x80 // RFC 9562 variant
	return id
}
