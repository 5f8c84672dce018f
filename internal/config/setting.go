package config

import "strings"

// Setting is one row of the table: a variable and the option (or the part
// of an option) that overrides it. A setting with no variable is an
// option alone.
type Setting struct {
	Env     string // the variable; "" for an option alone
	Option  string // the public option that sets it: "WithTimeout"
	Field   string // the option's field or argument that sets it, when it has several
	YAML    string // the key in the Collector component's configuration; "" where the Collector provides it
	Default string // parsed like the variable; "" for none
	Shown   string // the default as the documentation says it, when Default alone does not
	Doc     string // one line: what it sets
	Show    Shown  // how errors show a value
	Name    string // names the setting in errors when neither a variable nor an option set it
	Example string // a value that parses and passes the checks
	Wrong   string // a value that is refused; "" when every value is accepted

	parse func(c *Config, v string) error
	check func(c *Config, s *Setting) error

	// ReadAlways: read even under WithoutEnvironment (it sends nothing
	// anywhere).
	ReadAlways bool
}

// Shown is how a setting's value may appear in an error.
type Shown int

const (
	Plain  Shown = iota // quoted
	URL                 // as ShownURL allows
	Secret              // never: [REDACTED]
)

// Given is the option that sets s: shown is its argument as errors show
// it, set what it does.
func (s *Setting) Given(shown string, set func(*Config)) Option {
	return Option{setting: s, shown: shown, set: set}
}

// DefaultText is the default as the documentation says it.
func (s *Setting) DefaultText() string {
	switch {
	case s.Shown != "":
		return s.Shown
	case s.Default != "":
		return s.Default
	}
	return "none"
}

// Source is the option that sets s, as the documentation names it.
func (s *Setting) Source() string {
	if s.Field != "" {
		return s.Option + " (" + s.Field + ")"
	}
	return s.Option
}

// what names s in errors when neither its variable nor its option set it.
func (s *Setting) what() string {
	if s.Name != "" {
		return s.Name
	}
	return s.Env
}

// yamlKey is s's Collector key as the Collector names keys in errors:
// "kafka::sasl::mechanism".
func (s *Setting) yamlKey() string { return strings.ReplaceAll(s.YAML, ".", "::") }

// Lookup is the setting of variable env, or nil.
func Lookup(env string) *Setting {
	for _, s := range Table {
		if s.Env == env {
			return s
		}
	}
	return nil
}
