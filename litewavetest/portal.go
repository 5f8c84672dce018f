package litewavetest

import "net/http"

// portalAuthorized checks the key of a portal lookup. The portal always
// wants a key: WithPortalAPIKey's if set, else WithAPIKey's, else any
// non-empty one, so a client that forgets the header fails here as it
// would against the real portal.
func (s *Server) portalAuthorized(r *http.Request) bool {
	got := r.Header.Get("X-Api-Key")
	switch {
	case s.portalKey != "":
		return got == s.portalKey
	case s.apiKey != "":
		return got == s.apiKey
	}
	return got != ""
}
