package policies

import (
	"context"
	"testing"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/storage/inmem"
	"github.com/open-policy-agent/opa/v1/tester"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestRegoLibrary runs the built-in library's own Rego tests
// (rego/*_test.rego) through OPA's tester.
func TestRegoLibrary(t *testing.T) {
	t.Parallel()
	mods, _, err := builtinModules(true)
	require.NoError(t, err)
	ctx := context.Background()
	store := inmem.New()
	txn, err := store.NewTransaction(ctx)
	require.NoError(t, err)
	defer store.Abort(ctx, txn)

	compiler := ast.NewCompiler().WithCapabilities(capabilities(nil)).WithStrict(true)
	ch, err := tester.NewRunner().
		SetCompiler(compiler).
		SetStore(store).
		SetModules(mods).
		RaiseBuiltinErrors(true).
		RunTests(ctx, txn)
	require.NoError(t, err)
	n := 0
	for res := range ch {
		n++
		name := res.Package + "." + res.Name
		assert.NoError(t, res.Error, name)
		assert.False(t, res.Fail, "%s failed", name)
		assert.False(t, res.Skip, "%s skipped", name)
	}
	assert.GreaterOrEqual(t, n, 15, "number of Rego tests run")
}
