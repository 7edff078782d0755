package main

import (
	"context"
	"io"

	"github.com/rptguard/rptguard/keycloaktest"
)

func runDemo(_ context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("demo", "demo [flags]", stderr)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	srv, err := keycloaktest.Start(demoRealm()...)
	if err != nil {
		return err
	}
	defer srv.Close()
	printRealm(stdout, srv)
	return nil
}
