package usage

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/sha256"
	"encoding/binary"
	"hash/fnv"
)

// IDs derives the ids of one exporter's events in one session. The
// session's key is the SHA-256 of the exporter's instance and the session
// (a random value drawn at each start); an event's id is its sequence
// number within the session and a hash of its series, enciphered with that
// key by AES. AES is a permutation, so a session's events, numbered apart,
// get distinct blocks, and the key makes every session's blocks unrelated
// to every other's; with the UUID's 6 version and variant bits set, two
// events share an id no more often than two random 122-bit values do, as
// with the SHA-256 of all the inputs that ids were before. One block
// cipher call per event, where that SHA-256 took two compressions.
//
// An id, once derived, is stored with its event: a retry or a restart
// sends it as it is, and ids of earlier releases keep theirs.
type IDs struct {
	block cipher.Block
}

// idDomain names this derivation in its key's hash, apart from the
// SHA-256 of every input that gave earlier releases' ids
// (litewave-event-v2).
const idDomain = "litewave-event-v3"

// NewIDs returns the derivation of the instance's ids in session.
func NewIDs(instance string, session Session) *IDs {
	var buf [128]byte
	b := buf[:0]
	for _, f := range [...]string{idDomain, instance} {
		b = binary.AppendUvarint(b, uint64(len(f)))
		b = append(b, f...)
	}
	b = append(b, session[:]...)
	sum := sha256.Sum256(b)
	block, err := aes.NewCipher(sum[:16])
	if err != nil {
		panic(err) // a 16-byte key is always valid
	}
	return &IDs{block: block}
}

// Derive sets *id to the id of event number seq of series k. It is safe
// for concurrent use. The id is enciphered where it lies, so that
// deriving one into an event allocates nothing.
func (d *IDs) Derive(id *ID, k Key, seq uint64) {
	var buf [256]byte
	b := buf[:0]
	for _, f := range [...]string{k.Tenant, k.Device, k.Meter} {
		b = binary.AppendUvarint(b, uint64(len(f)))
		b = append(b, f...)
	}
	h := fnv.New64a()
	_, _ = h.Write(b)
	binary.BigEndian.PutUint64(id[:8], seq)
	binary.BigEndian.PutUint64(id[8:], h.Sum64())
	d.block.Encrypt(id[:], id[:])
	id[6] = id[6]&0x0f | 0x80 // version 8
	id[8] = id[8]&0x3f | 0x80 // RFC 9562 variant
}
