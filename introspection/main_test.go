package introspection

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the run if any goroutine (a detached introspection flight,
// an HTTP connection) outlives the tests (catalogue G10).
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
