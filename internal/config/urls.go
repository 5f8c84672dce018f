package config

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
)

// The one rule for echoing a configured URL: a value is shown only when it
// holds no "@" (no credentials, not even a token used as a user name) and
// parses as a URL or as host[:port]; otherwise what is wrong is said
// without it.

// ShownURL is raw quoted, when the rule allows showing it, or a
// description that holds nothing of it.
func ShownURL(raw string) string {
	if showable(raw) {
		return fmt.Sprintf("%q", raw)
	}
	if u, err := url.Parse(raw); err == nil && u.User != nil {
		return fmt.Sprintf("%q", masked(u))
	}
	return "(a value that is not shown)"
}

func showable(raw string) bool {
	if strings.Contains(raw, "@") || hasControl(raw) {
		return false
	}
	if u, err := url.Parse(raw); err == nil && u.Scheme != "" && u.Host != "" {
		return true
	}
	return isHostPort(raw)
}

// isHostPort reports whether s is host or host:port, with no scheme.
func isHostPort(s string) bool {
	if s == "" || strings.ContainsAny(s, "/?#@ ") {
		return false
	}
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		host, port = s, ""
	}
	return isHostName(host) && (port == "" || isDigits(port))
}

// isHostName reports whether s is a host name or an IPv4 address: letters,
// digits, '-', '.' and '_'.
func isHostName(s string) bool {
	for _, r := range s {
		if !('a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9' || r == '-' || r == '.' || r == '_') {
			return false
		}
	}
	return s != ""
}

func isDigits(s string) bool {
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return s != ""
}

// masked is u with its whole userinfo, user name included, masked.
func masked(u *url.URL) string {
	c := *u
	c.User = nil
	s := c.String()
	scheme := c.Scheme + "://"
	if strings.HasPrefix(s, scheme) {
		return scheme + "[REDACTED]@" + strings.TrimPrefix(s, scheme)
	}
	return "[REDACTED]@" + s
}

// checkURL checks a base URL of Litewave or a REST Proxy. Its error does
// not repeat the value: the setting's name before it shows what the rule
// allows.
func (c *Config) checkURL(raw string) error {
	u, err := url.Parse(raw)
	switch {
	case strings.Contains(raw, "@"):
		return errors.New("credentials in URLs are refused, as they would be printed and sent to whoever the URL names: " +
			"give http(s)://host[:port][/path], and the key with " + c.howToSet(APIKey))
	case isHostPort(raw):
		return fmt.Errorf("no scheme: add http:// or https:// (http://%s)", raw)
	case err != nil || hasControl(raw):
		return errors.New("not a URL: give http(s)://host[:port][/path]")
	case u.Scheme != "http" && u.Scheme != "https":
		return errors.New("the scheme must be http or https: give http(s)://host[:port][/path]")
	case u.Host == "":
		return errors.New("no host: give http(s)://host[:port][/path]")
	case u.RawQuery != "" || u.Fragment != "":
		return errors.New("must not have a query or fragment")
	}
	return nil
}

// checkSecret refuses a secret that cannot go into a header or a SASL
// exchange as it is; the message never holds the value.
func checkSecret(v string) error {
	if hasControl(v) {
		return fmt.Errorf("has a control character (a line break or a tab, say): remove it; the value is not shown")
	}
	return nil
}

func hasControl(s string) bool {
	for _, r := range s {
		if r < 0x20 || r == 0x7f {
			return true
		}
	}
	return false
}

// BaseURL is raw, checked, without a trailing slash.
func BaseURL(raw string) string { return strings.TrimSuffix(raw, "/") }
