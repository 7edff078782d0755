package uma_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rptguard/rptguard/uma"
)

func TestResourcesCRUD(t *testing.T) {
	t.Parallel()
	srv := newServer(t)
	c := newClient(t, srv)
	ctx := testCtx(t)
	rs := c.Resources()

	created, err := rs.Create(ctx, uma.Resource{
		Name: "Reports", DisplayName: "Monthly reports", Type: "urn:app:report",
		URIs: []string{"/reports/{year}/{month}"}, Scopes: []uma.Scope{{Name: "view"}, {Name: "export"}},
		IconURI: "https://icons/r.png", OwnerManagedAccess: false,
		Attributes: map[string][]string{"dept": {"finance"}},
	})
	require.NoError(t, err)
	require.NotEmpty(t, created.ID)
	assert.Equal(t, "Reports", created.Name)
	assert.ElementsMatch(t, []string{"view", "export"}, created.ScopeNames())

	got, err := rs.Get(ctx, created.ID)
	require.NoError(t, err)
	assert.Equal(t, created.ID, got.ID)
	assert.Equal(t, "Monthly reports", got.DisplayName)
	assert.Equal(t, "urn:app:report", got.Type)
	assert.Equal(t, []string{"/reports/{year}/{month}"}, got.URIs)
	assert.Equal(t, map[string][]string{"dept": {"finance"}}, got.Attributes)
	require.NotNil(t, got.Owner)
	assert.NotEmpty(t, got.Owner.ID)

	got.DisplayName = "Reports v2"
	got.URIs = []string{"/reports/*"}
	require.NoError(t, rs.Update(ctx, *got))
	again, err := rs.Get(ctx, created.ID)
	require.NoError(t, err)
	assert.Equal(t, "Reports v2", again.DisplayName)
	assert.Equal(t, []string{"/reports/*"}, again.URIs)

	require.NoError(t, rs.Delete(ctx, created.ID))
	_, err = rs.Get(ctx, created.ID)
	require.ErrorIs(t, err, uma.ErrNotFound)
	err = rs.Delete(ctx, created.ID)
	require.ErrorIs(t, err, uma.ErrNotFound)

	_, err = rs.Create(ctx, uma.Resource{ID: "x", Name: "y"})
	require.ErrorIs(t, err, uma.ErrInvalidRequest)
	_, err = rs.Get(ctx, "")
	require.ErrorIs(t, err, uma.ErrInvalidRequest)
	// "." and ".." would be dot-segments of the request path: a server that
	// normalizes them would act on resource_set itself or its parent.
	for _, id := range []string{".", ".."} {
		_, err = rs.Get(ctx, id)
		require.ErrorIs(t, err, uma.ErrInvalidRequest, id)
		require.ErrorIs(t, rs.Delete(ctx, id), uma.ErrInvalidRequest, id)
		require.ErrorIs(t, rs.Update(ctx, uma.Resource{ID: id, Name: "x"}), uma.ErrInvalidRequest, id)
	}
}

func TestResourcesQuery(t *testing.T) {
	t.Parallel()
	srv := newServer(t)
	c := newClient(t, srv)
	ctx := testCtx(t)
	rs := c.Resources()

	tests := []struct {
		name string
		q    uma.ResourceQuery
		want []string
	}{
		{name: "by id", q: uma.ResourceQuery{ID: "orders-1"}, want: []string{"orders-1"}},
		{name: "name partial", q: uma.ResourceQuery{Name: "voice"}, want: []string{"invoices-1"}},
		{name: "name exact miss", q: uma.ResourceQuery{Name: "voice", ExactName: true}, want: []string{}},
		{name: "name exact", q: uma.ResourceQuery{Name: "Invoices", ExactName: true}, want: []string{"invoices-1"}},
		{name: "uri exact", q: uma.ResourceQuery{URI: "/orders/*"}, want: []string{"orders-1"}},
		{name: "uri no match", q: uma.ResourceQuery{URI: "/orders/7"}, want: []string{}},
		{name: "matchingUri wildcard", q: uma.ResourceQuery{URI: "/orders/7", MatchingURI: true}, want: []string{"orders-1"}},
		{name: "matchingUri template", q: uma.ResourceQuery{URI: "/invoices/42", MatchingURI: true}, want: []string{"invoices-1"}},
		{name: "matchingUri none", q: uma.ResourceQuery{URI: "/nothing/here", MatchingURI: true}, want: []string{}},
		{name: "scope", q: uma.ResourceQuery{Scope: "delete"}, want: []string{"orders-1"}},
		{name: "unknown scope", q: uma.ResourceQuery{Scope: "fly"}, want: []string{}},
		{name: "owner", q: uma.ResourceQuery{Owner: "alice"}, want: []string{"private-1"}},
		{name: "max", q: uma.ResourceQuery{Max: 2}, want: nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ids, err := rs.Search(ctx, tt.q)
			require.NoError(t, err)
			if tt.want == nil {
				assert.Len(t, ids, 2)
			} else {
				assert.ElementsMatch(t, tt.want, ids)
			}
			full, err := rs.Find(ctx, tt.q)
			require.NoError(t, err)
			var fullIDs []string
			for _, r := range full {
				fullIDs = append(fullIDs, r.ID)
				assert.NotEmpty(t, r.Name)
			}
			assert.ElementsMatch(t, ids, fullIDs)
		})
	}

	// first/max paging covers everything exactly once.
	all, err := rs.Search(ctx, uma.ResourceQuery{Max: -1})
	require.NoError(t, err)
	var paged []string
	for first := 0; first < len(all); first += 2 {
		page, err := rs.Search(ctx, uma.ResourceQuery{First: first, Max: 2})
		require.NoError(t, err)
		paged = append(paged, page...)
	}
	assert.ElementsMatch(t, all, paged)

	// The enforcer's lookup: deep, matchingUri, unlimited.
	found, err := rs.Find(ctx, uma.ResourceQuery{URI: "/orders/7/items", MatchingURI: true, Max: -1})
	require.NoError(t, err)
	require.Len(t, found, 1)
	assert.Equal(t, "Orders", found[0].Name)
	assert.ElementsMatch(t, []string{"view", "edit", "delete"}, found[0].ScopeNames())
}
