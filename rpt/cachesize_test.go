package rpt_test

import (
	"context"
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/rptguard/rptguard/keycloaktest"
	"github.com/rptguard/rptguard/rpt"
)

// TestCacheEntrySize measures (roughly) the heap held per cached token,
// for the figure documented in doc.go. It asserts only a generous bound.
func TestCacheEntrySize(t *testing.T) {
	if testing.Short() {
		t.Skip("slow")
	}
	kc := keycloaktest.New(t, keycloaktest.WithTokenLifetime(time.Hour))
	for _, n := range []int{5, 50} {
		perms := make([]rpt.Permission, n)
		for i := range perms {
			perms[i] = rpt.Permission{ResourceID: fmt.Sprintf("6f1f2a3b-4c5d-4a43-9b8c-%012d", i),
				ResourceName: fmt.Sprintf("Resource %d", i), Scopes: []string{"view", "edit", "delete"}}
		}
		const count = 100
		tokens := make([]string, count)
		for i := range tokens {
			tokens[i] = kc.IssueRPT("alice", perms...)
		}
		v := newVerifier(t, kc, config(kc))
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		for _, tok := range tokens {
			_, err := v.Verify(context.Background(), tok)
			require.NoError(t, err)
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		per := (int64(after.HeapAlloc) - int64(before.HeapAlloc)) / count
		t.Logf("permissions=%d token=%d bytes: about %d bytes per cached entry", n, len(tokens[0]), per)
		require.Less(t, per, int64(64<<10))
		runtime.KeepAlive(v)
	}
}
