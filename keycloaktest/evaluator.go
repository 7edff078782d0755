package keycloaktest

import (
	"context"
	"slices"

	"github.com/rptguard/rptguard/rpt"
)

// grantTable is the default Evaluator: the grants of WithGrant/AddGrant,
// plus owner access (a resource's owner is granted every scope of it).
type grantTable struct{ s *Server }

var _ Evaluator = grantTable{}

// grantedScopesLocked returns the scopes sub holds on res. ok reports
// whether any grant applies (an applying grant whose scopes miss the
// resource's grants nothing).
func (g grantTable) grantedScopesLocked(sub Subject, res *resource, pushed map[string][]string) ([]string, bool) {
	if (sub.UserID != "" && res.ownerID == sub.UserID) || (!res.ownerIsRS && sub.Username != "" && res.ownerName == sub.Username) {
		return slices.Clone(res.Scopes), true
	}
	var scopes []string
	ok := false
	for _, gr := range g.s.grants {
		if gr.User != "*" && gr.User != sub.Username && gr.User != sub.UserID {
			continue
		}
		if gr.Resource != res.Name && gr.Resource != res.ID {
			continue
		}
		if !claimsContain(pushed, gr.Claims) {
			continue
		}
		if len(gr.Scopes) == 0 {
			return slices.Clone(res.Scopes), true
		}
		for _, sc := range gr.Scopes {
			if slices.Contains(res.Scopes, sc) && !slices.Contains(scopes, sc) {
				scopes = append(scopes, sc)
				ok = true
			}
		}
	}
	return scopes, ok
}

// claimsContain reports whether pushed holds every value of required.
func claimsContain(pushed, required map[string][]string) bool {
	for name, want := range required {
		have := pushed[name]
		for _, v := range want {
			if !slices.Contains(have, v) {
				return false
			}
		}
	}
	return true
}

// Evaluate implements Evaluator over the grant table.
func (g grantTable) Evaluate(_ context.Context, sub Subject, req []RequestedPermission, pushed map[string][]string) ([]rpt.Permission, error) {
	g.s.mu.RLock()
	defer g.s.mu.RUnlock()
	var out []rpt.Permission
	if len(req) == 0 {
		for _, res := range g.s.resources {
			if scopes, ok := g.grantedScopesLocked(sub, res, pushed); ok {
				out = append(out, rpt.Permission{ResourceID: res.ID, ResourceName: res.Name, Scopes: scopes})
			}
		}
		return out, nil
	}
	for _, rq := range req {
		if rq.ResourceID == "" {
			var union []string
			for _, res := range g.s.resources {
				scopes, ok := g.grantedScopesLocked(sub, res, pushed)
				if !ok {
					continue
				}
				hit := intersect(scopes, rq.Scopes)
				if len(hit) == 0 {
					continue
				}
				out = append(out, rpt.Permission{ResourceID: res.ID, ResourceName: res.Name, Scopes: hit})
				union = appendUnique(union, hit...)
			}
			if len(union) > 0 {
				out = append(out, rpt.Permission{Scopes: union})
			}
			continue
		}
		res := g.s.resourceByIDLocked(rq.ResourceID)
		if res == nil {
			continue
		}
		scopes, ok := g.grantedScopesLocked(sub, res, pushed)
		if !ok {
			continue
		}
		if len(rq.Scopes) > 0 {
			scopes = intersect(scopes, rq.Scopes)
			if len(scopes) == 0 {
				continue
			}
		}
		out = append(out, rpt.Permission{ResourceID: res.ID, ResourceName: res.Name, Scopes: scopes})
	}
	return mergePermissions(out), nil
}

func intersect(a, b []string) []string {
	var out []string
	for _, x := range a {
		if slices.Contains(b, x) && !slices.Contains(out, x) {
			out = append(out, x)
		}
	}
	return out
}

func appendUnique(dst []string, vs ...string) []string {
	for _, v := range vs {
		if !slices.Contains(dst, v) {
			dst = append(dst, v)
		}
	}
	return dst
}

// mergePermissions merges permissions of the same resource (scope union;
// a resource-level permission, without scopes, absorbs the others) keeping
// first-seen order.
func mergePermissions(in []rpt.Permission) []rpt.Permission {
	var out []rpt.Permission
	idx := map[string]int{}
	for _, p := range in {
		i, seen := idx[p.ResourceID]
		if !seen {
			idx[p.ResourceID] = len(out)
			p.Scopes = slices.Clone(p.Scopes)
			out = append(out, p)
			continue
		}
		q := &out[i]
		if len(q.Scopes) == 0 && q.ResourceID != "" {
			continue // already resource-level
		}
		if len(p.Scopes) == 0 && p.ResourceID != "" {
			q.Scopes = nil
			continue
		}
		q.Scopes = appendUnique(q.Scopes, p.Scopes...)
		if q.ResourceName == "" {
			q.ResourceName = p.ResourceName
		}
		if q.Claims == nil {
			q.Claims = p.Claims
		}
	}
	return out
}
