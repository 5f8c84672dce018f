package usage

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
)

// Limits on what enters the exporter. They are enforced where values enter
// (options, Export, lookup answers), so that everything stored can be read
// back and sent.
const (
	MaxMeterLength    = 255 // meter ids, as OpenTelemetry bounds instrument names
	MaxCustomerLength = 255 // customer ids from lookup answers
)

// Key identifies a series: what the backend bills as one line.
type Key struct {
	Tenant, Device, Meter string
}

// Event is one usage event: an amount of one series over a window, bound
// to a customer. Once it has been attempted it never changes, so every
// retry, and a replay after a restart, sends the same bytes under the same
// ID.
type Event struct {
	ID       ID
	Key      Key
	Customer string
	Units    int64
	// Start and End bound the window the usage was counted in, as Unix
	// nanoseconds.
	Start, End int64
}

// ID is an event's idempotency key: an RFC 9562 version 8 UUID whose bits
// are the SHA-256 of the exporter's instance, the session (a random value
// drawn at each start), the series and the event's sequence number within
// the session. No two events share one, whatever the instance ids.
type ID [16]byte

// Session is the random part of every ID an exporter derives in one run.
type Session [16]byte

// IsZero reports whether the id has not been derived yet.
func (id ID) IsZero() bool { return id == ID{} }

// String formats the id as a UUID.
func (id ID) String() string {
	var b [36]byte
	id.encode(b[:])
	return string(b[:])
}

// AppendText appends the UUID form of id to dst.
func (id ID) AppendText(dst []byte) []byte {
	var b [36]byte
	id.encode(b[:])
	return append(dst, b[:]...)
}

func (id ID) encode(b []byte) {
	hex.Encode(b[0:8], id[0:4])
	b[8] = '-'
	hex.Encode(b[9:13], id[4:6])
	b[13] = '-'
	hex.Encode(b[14:18], id[6:8])
	b[18] = '-'
	hex.Encode(b[19:23], id[8:10])
	b[23] = '-'
	hex.Encode(b[24:], id[10:])
}

// DeriveID computes the id of event number seq of series k.
func DeriveID(instance string, session Session, k Key, seq uint64) ID {
	var buf [256]byte
	b := buf[:0]
	for _, f := range [...]string{"litewave-event-v2", instance, k.Tenant, k.Device, k.Meter} {
		b = binary.AppendUvarint(b, uint64(len(f)))
		b = append(b, f...)
	}
	b = append(b, session[:]...)
	b = binary.BigEndian.AppendUint64(b, seq)
	sum := sha256.Sum256(b)
	var id ID
	copy(id[:], sum[:16])
	id[6] = id[6]&0x0f | 0x80 // version 8
	id[8] = id[8]&0x3f | 0x80 // RFC 9562 variant
	return id
}
