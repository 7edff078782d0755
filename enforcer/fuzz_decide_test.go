package enforcer_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/rptguard/rptguard/enforcer"
	"github.com/rptguard/rptguard/rpt"
)

// FuzzDecide feeds hostile methods, targets and headers to the whole
// pipeline (offline). Properties: no panic; an allow is always 200 without
// error; an anonymous request is allowed only on the public path or the deny
// page; the allowed canonical path never contains a dot segment.
func FuzzDecide(f *testing.F) {
	for _, s := range []string{"/public/x", "/admin/x", "/public/../admin", "/%61dmin/x", "/a%2fb", "*", "//x", "/deny?x=1", "/api/1;x"} {
		f.Add("GET", s, "")
	}
	f.Add("POST", "/admin/x", "DELETE")
	f.Add("get", "/admin/x", "")
	cfg, err := enforcer.ParseConfig([]byte(`{"on-deny-redirect-to":"/deny","paths":[
		{"path":"/public/*","enforcement-mode":"DISABLED"},{"path":"/admin/*","id":"admin"},
		{"path":"/api/{id}","id":"items","methods":[{"method":"GET","scopes":["view"]}]}],
		"rptguard":{"permissions-source":"token"}}`))
	if err != nil {
		f.Fatal(err)
	}
	ver := enforcer.TokenVerifierFunc(func(context.Context, string) (*rpt.Claims, error) {
		return nil, rpt.ErrMalformed
	})
	e, err := enforcer.New(context.Background(), cfg, enforcer.WithoutServer(), enforcer.WithVerifier(ver))
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(e.Close)
	f.Fuzz(func(t *testing.T, method, target, override string) {
		h := http.Header{}
		if override != "" {
			h.Set("X-HTTP-Method-Override", override)
		}
		d, err := e.Decide(context.Background(), enforcer.Request{Method: method, Path: target, Header: h})
		if d.Allowed {
			if err != nil || d.Status != 200 {
				t.Fatalf("allowed with status %d, err %v", d.Status, err)
			}
			if d.Reason != enforcer.ReasonPathDisabled && d.Reason != enforcer.ReasonDenyPage {
				t.Fatalf("anonymous allowed for %q: %s", target, d.Reason)
			}
			for _, seg := range strings.Split(d.CanonicalPath, "/") {
				if seg == ".." || seg == "." {
					t.Fatalf("dot segment in allowed path %q", d.CanonicalPath)
				}
			}
		} else if d.Status == 200 {
			t.Fatal("denied with 200")
		}
	})
}
