package litewavemetric

import (
	"fmt"
	"hash/fnv"
	"strconv"

	"github.com/aiorch/litewavemetric/internal/usage"
)

// MaxIDLength is the longest tenant or device id accepted, in bytes.
const MaxIDLength = 128

// ErrInvalidID is wrapped by every error about a tenant, device or meter id
// that cannot be sent.
var ErrInvalidID = usage.ErrInvalidID

// ValidateID reports whether id may be used as a tenant or device id.
//
// Ids come from metric attributes, that is from whoever calls Add, and end
// up in HTTP headers and in a URL path; so they are held to an allow-list
// rather than escaped and hoped for: 1 to MaxIDLength bytes of ASCII letters,
// digits and . _ - : @ ~ +, beginning with a letter or digit. That admits
// UUIDs, slugs, e-mail-like and k8s-style names, and rejects path tricks
// ("..", "a/b"), header tricks (CR, LF, tab), non-ASCII and empty ids.
func ValidateID(id string) error {
	if id == "" {
		return fmt.Errorf("%w: empty", ErrInvalidID)
	}
	if len(id) > MaxIDLength {
		return fmt.Errorf("%w: %d bytes, longer than %d", ErrInvalidID, len(id), MaxIDLength)
	}
	if !alnum(id[0]) {
		return fmt.Errorf("%w: must begin with a letter or digit, not %q", ErrInvalidID, id[0])
	}
	for i := 1; i < len(id); i++ {
		if c := id[i]; !alnum(c) && !punct(c) {
			return fmt.Errorf("%w: byte %q at offset %d is not allowed", ErrInvalidID, c, i)
		}
	}
	return nil
}

func alnum(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

func punct(c byte) bool {
	switch c {
	case '.', '_', '-', ':', '@', '~', '+':
		return true
	}
	return false
}

// printable returns id quoted and, if long, truncated with a hash of the
// whole: an invalid id may be huge or hold control characters, and must
// never reach a header, a path or a log line as it is.
func printable(id string) string {
	const keep = 32
	if len(id) <= keep {
		return strconv.Quote(id)
	}
	h := fnv.New64a()
	h.Write([]byte(id))
	return fmt.Sprintf("%s…(%d bytes, fnv %016x)", strconv.Quote(id[:keep]), len(id), h.Sum64())
}
