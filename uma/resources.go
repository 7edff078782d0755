package uma

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// Resources is the Protection API resource_set client (SPEC §6.3). Calls
// authenticate with the client's PAT (refreshed once on 401). Obtain it from
// [Client.Resources]; it is safe for concurrent use.
//
// Errors: an [*Error] for error answers (errors.Is: ErrNotFound for 404,
// ErrInvalidScope for a PAT without uma_protection, …), ErrUnavailable for
// transport failures, 5xx and malformed answers.
type Resources struct{ c *Client }

// ResourceQuery holds every search parameter of resource_set. Zero values are
// not sent.
type ResourceQuery struct {
	// ID filters by resource id (_id).
	ID string
	// Name is a partial match unless ExactName.
	Name      string
	ExactName bool
	// URI is an exact URI match; with MatchingURI, when nothing matches
	// exactly, the server applies its path matcher and returns at most one
	// resource.
	URI         string
	MatchingURI bool
	// Owner is a client_id or username.
	Owner string
	// Type is an exact type match.
	Type string
	// Scope is a scope name (unknown ⇒ no results).
	Scope string
	// First is the offset of the first result (sent if > 0).
	First int
	// Max caps results: 0 = not sent (server default 100), −1 = unlimited.
	Max int
}

func (q ResourceQuery) values(deep bool) url.Values {
	v := url.Values{}
	set := func(k, val string) {
		if val != "" {
			v.Set(k, val)
		}
	}
	set("_id", q.ID)
	set("name", q.Name)
	set("uri", q.URI)
	set("owner", q.Owner)
	set("type", q.Type)
	set("scope", q.Scope)
	if q.ExactName {
		v.Set("exactName", "true")
	}
	if q.MatchingURI {
		v.Set("matchingUri", "true")
	}
	if deep {
		v.Set("deep", "true")
	}
	if q.First > 0 {
		v.Set("first", strconv.Itoa(q.First))
	}
	if q.Max != 0 {
		v.Set("max", strconv.Itoa(q.Max))
	}
	return v
}

// maxListBytes caps list answers.
const maxListBytes = 8 << 20

// Search returns the ids of the resources matching q (deep=false).
func (r *Resources) Search(ctx context.Context, q ResourceQuery) ([]string, error) {
	body, err := r.list(ctx, q, false)
	if err != nil {
		return nil, err
	}
	var ids []string
	if decodeStrict(body, &ids) != nil || ids == nil && !isEmptyArray(body) {
		return nil, malformed("resource_set", "id list")
	}
	if ids == nil {
		ids = []string{}
	}
	return ids, nil
}

// Find returns the full resources matching q (deep=true). This is how
// enforcers resolve paths: ResourceQuery{URI: p, MatchingURI: true, Max: -1}.
func (r *Resources) Find(ctx context.Context, q ResourceQuery) ([]Resource, error) {
	body, err := r.list(ctx, q, true)
	if err != nil {
		return nil, err
	}
	var rs []Resource
	if decodeStrict(body, &rs) != nil || rs == nil && !isEmptyArray(body) {
		return nil, malformed("resource_set", "resource list")
	}
	if rs == nil {
		rs = []Resource{}
	}
	return rs, nil
}

func isEmptyArray(b []byte) bool {
	return strings.TrimSpace(string(b)) == "[]"
}

func (r *Resources) list(ctx context.Context, q ResourceQuery, deep bool) ([]byte, error) {
	u, err := r.base()
	if err != nil {
		return nil, err
	}
	resp, err := r.c.protected(ctx, request{
		endpoint: "resource_set", method: http.MethodGet, url: u, query: q.values(deep), limit: maxListBytes,
	})
	if err != nil {
		return nil, err
	}
	if resp.status != http.StatusOK {
		return nil, statusError("resource_set", resp)
	}
	return resp.body, nil
}

func (r *Resources) base() (string, error) {
	if r.c.ep.ResourceSet == "" {
		return "", invalidRequest("no resource registration endpoint configured")
	}
	return r.c.ep.ResourceSet, nil
}

func (r *Resources) itemURL(id string) (string, error) {
	u, err := r.base()
	if err != nil {
		return "", err
	}
	if id == "" {
		return "", invalidRequest("resource id is required")
	}
	if id == "." || id == ".." {
		// PathEscape keeps them: they would be dot-segments of the path.
		return "", invalidRequest("resource id is a dot-segment")
	}
	return strings.TrimSuffix(u, "/") + "/" + url.PathEscape(id), nil
}

// Get returns the resource with the given id (ErrNotFound if none).
func (r *Resources) Get(ctx context.Context, id string) (*Resource, error) {
	u, err := r.itemURL(id)
	if err != nil {
		return nil, err
	}
	resp, err := r.c.protected(ctx, request{endpoint: "resource_set", method: http.MethodGet, url: u})
	if err != nil {
		return nil, err
	}
	if resp.status != http.StatusOK {
		return nil, statusError("resource_set", resp)
	}
	return decodeResource(resp.body)
}

func decodeResource(body []byte) (*Resource, error) {
	var res Resource
	if decodeObject(body, &res) != nil || res.ID == "" {
		return nil, malformed("resource_set", "resource")
	}
	return &res, nil
}

// Create registers res (its ID must be empty) and returns the stored
// resource with its new id. Without an Owner the resource server owns it.
func (r *Resources) Create(ctx context.Context, res Resource) (*Resource, error) {
	u, err := r.base()
	if err != nil {
		return nil, err
	}
	if res.Name == "" || res.ID != "" {
		return nil, invalidRequest("create needs a name and no id")
	}
	resp, err := r.c.protected(ctx, request{endpoint: "resource_set", method: http.MethodPost, url: u, jsonBody: res})
	if err != nil {
		return nil, err
	}
	if resp.status != http.StatusCreated && resp.status != http.StatusOK {
		return nil, statusError("resource_set", resp)
	}
	return decodeResource(resp.body)
}

// Update replaces the resource res.ID with res.
func (r *Resources) Update(ctx context.Context, res Resource) error {
	u, err := r.itemURL(res.ID)
	if err != nil {
		return err
	}
	resp, err := r.c.protected(ctx, request{endpoint: "resource_set", method: http.MethodPut, url: u, jsonBody: res})
	if err != nil {
		return err
	}
	if resp.status != http.StatusNoContent && resp.status != http.StatusOK {
		return statusError("resource_set", resp)
	}
	return nil
}

// Delete removes the resource with the given id.
func (r *Resources) Delete(ctx context.Context, id string) error {
	u, err := r.itemURL(id)
	if err != nil {
		return err
	}
	resp, err := r.c.protected(ctx, request{endpoint: "resource_set", method: http.MethodDelete, url: u})
	if err != nil {
		return err
	}
	if resp.status != http.StatusNoContent && resp.status != http.StatusOK {
		return statusError("resource_set", resp)
	}
	return nil
}
