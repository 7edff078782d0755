// Command rptguard is the rptguard command-line tool.
//
// Usage:
//
//	rptguard demo           walk through rptguard protecting an API on an embedded realm
//	rptguard check          decide one request offline and print the decision as JSON
//	rptguard explain        decide one request offline and explain every step
//	rptguard validate       lint a policy-enforcer configuration
//	rptguard proxy          run the enforcer in front of an upstream HTTP service
//	rptguard import         turn a Keycloak authorization-settings export into config and Rego
//	rptguard dev-keycloak   run the embedded Keycloak-compatible server for local development
//	rptguard version        print the version
//
// Every command takes --help. Exit status: 0 success, 1 error (or, for
// validate, findings), 2 bad usage; check and explain exit 2 for a denied
// request and 1 for bad usage.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

type command struct {
	name    string
	summary string
	run     func(ctx context.Context, args []string, stdout, stderr io.Writer) error
	// usageExit is the exit status for bad flags (default 2). check and
	// explain use 1, because their 2 means "denied".
	usageExit int
}

func commands() []command {
	return []command{
		{name: "demo", summary: "walk through rptguard protecting an API on an embedded realm", run: runDemo},
		{name: "check", summary: "decide one request offline and print the decision as JSON", run: runCheck, usageExit: 1},
		{name: "explain", summary: "decide one request offline and explain every step", run: runExplain, usageExit: 1},
		{name: "validate", summary: "lint a policy-enforcer configuration", run: runValidate},
		{name: "proxy", summary: "run the enforcer in front of an upstream HTTP service", run: runProxy},
		{name: "import", summary: "turn a Keycloak authorization-settings export into enforcer config and Rego", run: runImport},
		{name: "dev-keycloak", summary: "run the embedded Keycloak-compatible server for local development", run: runDevKeycloak},
		{name: "version", summary: "print the version", run: func(_ context.Context, _ []string, stdout, _ io.Writer) error {
			_, err := fmt.Fprintln(stdout, "rptguard", version)
			return err
		}},
	}
}

// errUsage marks an error caused by bad arguments (exit status 2 after usage).
var errUsage = errors.New("usage")

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(stderr)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	for _, c := range commands() {
		if c.name != args[0] {
			continue
		}
		err := c.run(ctx, args[1:], stdout, stderr)
		var ee *exitError
		switch {
		case err == nil:
			return 0
		case errors.Is(err, flag.ErrHelp):
			return 0
		case errors.As(err, &ee):
			return ee.code
		case errors.Is(err, errUsage):
			if c.usageExit != 0 {
				return c.usageExit
			}
			return 2
		default:
			fmt.Fprintf(stderr, "rptguard %s: %v\n", c.name, err)
			return 1
		}
	}
	fmt.Fprintf(stderr, "rptguard: unknown command %q\n\n", args[0])
	usage(stderr)
	return 2
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "rptguard: Keycloak-compatible policy enforcement for Go services, with Rego.")
	fmt.Fprintln(w, "\nUsage: rptguard <command> [flags]\n\nCommands:")
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-14s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w, "\nRun 'rptguard <command> --help' for a command's flags.")
}

// newFlagSet returns a FlagSet that reports errors instead of exiting.
func newFlagSet(name, synopsis string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("rptguard "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: rptguard %s\n\n", synopsis)
		fs.PrintDefaults()
	}
	return fs
}

// usageError prints msg and the command's usage, and returns errUsage.
func usageError(fs *flag.FlagSet, format string, args ...any) error {
	fmt.Fprintf(fs.Output(), format+"\n", args...)
	fs.Usage()
	return errUsage
}

// parseFlags parses args and maps flag errors to errUsage.
func parseFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return errUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(fs.Output(), "unexpected argument %q\n", fs.Arg(0))
		fs.Usage()
		return errUsage
	}
	return nil
}
