package main

import (
	"errors"
	"fmt"
	"net"
	"strconv"
	"time"

	"github.com/aiorch/litewavemetric"
)

// checked is a flag value of a given form. A value not of that form is a
// usage error saying what the flag takes; the flag package would say
// "parse error".
type checked struct {
	f     *flags
	name  string
	shown string              // the default, as --help shows it
	set   func(s string) bool // stores s if it has the form
}

func (c *checked) String() string {
	if c == nil {
		return ""
	}
	return c.shown
}

func (c *checked) Set(s string) error {
	if !c.set(s) {
		c.f.refused = fmt.Sprintf("--%s takes %s, not %q", c.name, c.f.takes[c.name], s)
		return errors.New(c.f.refused)
	}
	return nil
}

// check defines the flag name, which takes values described by takes (and
// shown in messages), parsed by set.
func (f *flags) check(name, takes, shown, usage string, set func(string) bool) {
	f.takes[name] = takes
	f.Var(&checked{f: f, name: name, shown: shown, set: set}, name, usage)
}

const idForm = "letters, digits and . _ - : @ ~ +, beginning with a letter or digit"

// id is a tenant or device id flag, as the library accepts them.
func (f *flags) id(name, what, usage string) *string {
	v := new(string)
	f.check(name, what+" ("+idForm+")", "", usage, func(s string) bool {
		*v = s
		return litewavemetric.ValidateID(s) == nil
	})
	return v
}

// text is a flag that must not be empty.
func (f *flags) text(name, what, usage string) *string {
	v := new(string)
	f.check(name, what, "", usage, func(s string) bool {
		*v = s
		return s != ""
	})
	return v
}

// units is a whole number of units, 0 or more.
func (f *flags) units(name, usage string) *int64 {
	v := new(int64)
	f.check(name, "a whole number of units, 0 or more", "", usage, func(s string) bool {
		n, err := strconv.ParseInt(s, 10, 64)
		*v = n
		return err == nil && n >= 0
	})
	return v
}

// duration is a positive duration.
func (f *flags) duration(name string, def time.Duration, usage string) *time.Duration {
	v := &def
	f.check(name, "a positive duration such as 30s or 2m", def.String(), usage, func(s string) bool {
		d, err := time.ParseDuration(s)
		*v = d
		return err == nil && d > 0
	})
	return v
}

// hostPort is an address to listen on.
func (f *flags) hostPort(name, def, usage string) *string {
	v := &def
	f.check(name, "HOST:PORT, e.g. 127.0.0.1:8080", def, usage, func(s string) bool {
		*v = s
		_, port, err := net.SplitHostPort(s)
		return err == nil && validPort(port)
	})
	return v
}

// port is a TCP port, 0 for any free one.
func (f *flags) port(name string, def int, usage string) *int {
	v := &def
	f.check(name, "a port number from 0 to 65535", strconv.Itoa(def), usage, func(s string) bool {
		*v, _ = strconv.Atoi(s)
		return validPort(s)
	})
	return v
}

func validPort(s string) bool {
	n, err := strconv.ParseUint(s, 10, 16)
	return err == nil && n <= 65535
}
