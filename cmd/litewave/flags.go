package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
)

// usageError is a command line that does not parse. It exits 2 with one
// line saying what is wanted and a pointer to the command's --help: the
// whole help would bury that line.
type usageError struct {
	err  error
	help string // the command whose --help explains, e.g. "litewave post"
}

func (e *usageError) Error() string { return e.err.Error() }

// helpRequest is --help; it prints the usage to stdout and exits 0.
type helpRequest struct {
	usage func(io.Writer)
}

func (*helpRequest) Error() string { return "help requested" }

// flags is a command's flag set with its usage text.
type flags struct {
	*flag.FlagSet
	synopsis string            // the command line, e.g. "litewave lookup TENANT"
	about    string            // what the command does
	takes    map[string]string // what each checked flag takes
	refused  string            // why a checked flag refused its value
}

func newFlags(name, synopsis, about string) *flags {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	// The flag package would print its own usage on an error; run prints
	// ours instead, to stdout for --help and to stderr for an error.
	fs.SetOutput(io.Discard)
	return &flags{FlagSet: fs, synopsis: synopsis, about: about, takes: map[string]string{}}
}

func (f *flags) usage(w io.Writer) {
	fmt.Fprintf(w, "usage: %s\n\n%s\n", f.synopsis, strings.TrimSpace(f.about))
	first := true
	// As PrintDefaults does, but with the two dashes the synopses use.
	f.VisitAll(func(fl *flag.Flag) {
		if first {
			fmt.Fprintln(w, "\nflags:")
			first = false
		}
		arg, help := flag.UnquoteUsage(fl)
		fmt.Fprintf(w, "  --%s\n        %s", strings.TrimSpace(fl.Name+" "+arg), help)
		if fl.DefValue != "" && fl.DefValue != "0" && fl.DefValue != "false" {
			fmt.Fprintf(w, " (default %s)", fl.DefValue)
		}
		fmt.Fprintln(w)
	})
}

// parse parses args, with flags before or after the positional arguments
// (the standard package stops at the first positional one), and checks
// that there is one positional argument per name, such as "DIR".
func (f *flags) parse(args []string, names ...string) ([]string, error) {
	var positional []string
	for {
		if err := f.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, &helpRequest{f.usage}
			}
			return nil, f.bad("%s", f.explain(err))
		}
		rest := f.Args()
		if len(rest) == 0 {
			break
		}
		if consumed := len(args) - len(rest); consumed > 0 && args[consumed-1] == "--" {
			positional = append(positional, rest...) // after "--" nothing is a flag
			break
		}
		positional = append(positional, rest[0])
		args = rest[1:]
	}
	switch {
	case len(positional) < len(names):
		return nil, f.bad("missing %s", strings.Join(names[len(positional):], " "))
	case len(positional) > len(names):
		return nil, f.bad("unexpected argument %q", positional[len(names)])
	}
	return positional, nil
}

// explain turns the flag package's error into what is wanted, with the
// two dashes the synopses use. Its messages are matched as text: it has
// no error types.
func (f *flags) explain(err error) string {
	if f.refused != "" {
		return f.refused
	}
	msg := err.Error()
	if name, ok := strings.CutPrefix(msg, "flag provided but not defined: -"); ok {
		return "unknown flag --" + name
	}
	if name, ok := strings.CutPrefix(msg, "flag needs an argument: -"); ok {
		if takes := f.takes[name]; takes != "" {
			return fmt.Sprintf("--%s needs a value: %s", name, takes)
		}
		return fmt.Sprintf("--%s needs a value", name)
	}
	if rest, ok := strings.CutPrefix(msg, "invalid boolean value "); ok {
		if value, name, ok := strings.Cut(rest, " for -"); ok {
			name, _, _ = strings.Cut(name, ":")
			return fmt.Sprintf("--%s takes true or false, not %s", name, value) // value is quoted
		}
	}
	return msg
}

// require fails unless every named flag was given.
func (f *flags) require(names ...string) error {
	set := map[string]bool{}
	f.Visit(func(fl *flag.Flag) { set[fl.Name] = true })
	var missing []string
	for _, n := range names {
		if !set[n] {
			missing = append(missing, "--"+n)
		}
	}
	if len(missing) > 0 {
		return f.bad("missing %s", strings.Join(missing, ", "))
	}
	return nil
}

// bad is a usage error of this command.
func (f *flags) bad(format string, args ...any) error {
	return &usageError{fmt.Errorf("%s: %s", f.Name(), fmt.Sprintf(format, args...)), "litewave " + f.Name()}
}
