// Command litewave works with Litewave billing from a shell. It is
// configured by the same LITEWAVE_* environment variables as the
// litewavemetric library (go doc github.com/aiorch/litewavemetric). It
// prints a tenant's customer id, bills units once, shows what an
// exporter's spool holds, delivers the spool of a replica that is gone,
// and serves a local stand-in for Litewave with a live page of billed
// usage:
//
//	litewave lookup TENANT
//	litewave post --tenant T --device D --meter M --usage N
//	litewave spool inspect DIR
//	litewave spool drain DIR [--timeout 2m]
//	litewave dev [--addr 127.0.0.1:8080] [--kafka-port 9092] [--customer TENANT=ID ...] [--redpanda]
//	litewave version
//
// Every command has --help. The exit status is 0 on success, 1 on failure
// and 2 on a usage error, which prints one line saying what is wanted.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
)

// Exit statuses.
const (
	exitOK    = 0
	exitFail  = 1
	exitUsage = 2
)

// command is one command, or a group of them (spool).
type command struct {
	name    string
	summary string
	run     func(ctx context.Context, out *output, args []string) error
	sub     []command // a group's commands; run is nil
}

// output is where a command writes: results to stdout, diagnostics to
// stderr.
type output struct {
	stdout, stderr io.Writer
}

var commands = []command{
	{name: "lookup", summary: "print the customer id a tenant is billed to", run: lookup},
	{name: "post", summary: "bill units of a meter once, through the configured backend", run: post},
	{name: "spool", summary: "inspect or drain an exporter's spool", sub: []command{
		{name: "inspect", summary: "show what a spool holds, read-only", run: spoolInspect},
		{name: "drain", summary: "deliver what a spool holds through the configured backend", run: spoolDrain},
	}},
	{name: "dev", summary: "serve a local stand-in for Litewave and Kafka, with a live page of billed usage", run: dev},
	{name: "version", summary: "print the version of litewavemetric this command is built from", run: version},
}

func main() {
	// The signal ends the context: a command stops what it does, says so,
	// and exits (dev stops serving; drain leaves the rest in the spool).
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, &output{stdout: os.Stdout, stderr: os.Stderr}, os.Args[1:])
	stop()
	os.Exit(code)
}

// run runs the command args name and returns the exit status.
func run(ctx context.Context, out *output, args []string) int {
	err := dispatch(ctx, out, "litewave", commands, args)
	var help *helpRequest
	var bad *usageError
	switch {
	case err == nil:
		return exitOK
	case errors.As(err, &help):
		help.usage(out.stdout)
		return exitOK
	case errors.As(err, &bad):
		fmt.Fprintf(out.stderr, "litewave: %v\nrun '%s --help' for usage\n", bad.err, bad.help)
		return exitUsage
	default:
		fmt.Fprintf(out.stderr, "litewave: %v\n", err)
		return exitFail
	}
}

// dispatch finds the command args[0] among cmds and runs it with the rest.
func dispatch(ctx context.Context, out *output, path string, cmds []command, args []string) error {
	// A group's errors name it, as a command's do ("spool: ...").
	prefix := strings.TrimPrefix(strings.TrimPrefix(path, "litewave"), " ")
	if prefix != "" {
		prefix += ": "
	}
	if len(args) == 0 {
		return &usageError{fmt.Errorf("%swant a command: %s", prefix, names(cmds)), path}
	}
	if isHelp(args[0]) {
		return &helpRequest{func(w io.Writer) { groupUsage(w, path, cmds) }}
	}
	for _, c := range cmds {
		if c.name != args[0] {
			continue
		}
		if c.sub != nil {
			return dispatch(ctx, out, path+" "+c.name, c.sub, args[1:])
		}
		return c.run(ctx, out, args[1:])
	}
	return &usageError{fmt.Errorf("%sunknown command %q; want %s", prefix, args[0], names(cmds)), path}
}

// names lists the commands' names: "a, b or c".
func names(cmds []command) string {
	var s []string
	for _, c := range cmds {
		s = append(s, c.name)
	}
	return strings.Join(s[:len(s)-1], ", ") + " or " + s[len(s)-1]
}

func isHelp(arg string) bool {
	return arg == "help" || arg == "-h" || arg == "-help" || arg == "--help"
}

func groupUsage(w io.Writer, path string, cmds []command) {
	fmt.Fprintf(w, "usage: %s COMMAND [ARGS]\n\ncommands:\n", path)
	for _, c := range cmds {
		fmt.Fprintf(w, "  %-8s %s\n", c.name, c.summary)
	}
	fmt.Fprintf(w, "\nRun '%s COMMAND --help' for a command's flags. Commands that reach Litewave\n"+
		"are configured by the LITEWAVE_* environment variables of the litewavemetric\n"+
		"library (go doc github.com/aiorch/litewavemetric).\n", path)
}
