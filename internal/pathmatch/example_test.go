package pathmatch_test

import (
	"errors"
	"fmt"

	"github.com/rptguard/rptguard/internal/pathmatch"
)

func Example() {
	m, err := pathmatch.Compile([]string{"/api/*", "/api/{version}/orders/{id}", "/*.css"})
	if err != nil {
		panic(err)
	}
	for _, target := range []string{"/api/v1/orders/42?x=1", "/api/v1/%6Frders/42/", "/api/../admin", "/api%2Fadmin", "/site.css"} {
		c, err := pathmatch.Canonicalize(target, pathmatch.ModeStrict, pathmatch.Limits{})
		switch {
		case errors.Is(err, pathmatch.ErrTooLong):
			fmt.Println(target, "→ 414")
			continue
		case errors.Is(err, pathmatch.ErrBadRequest):
			fmt.Println(target, "→ 400")
			continue
		}
		res, ok := m.Match(c.Path)
		if !ok {
			fmt.Println(target, "→ unmapped")
			continue
		}
		fmt.Printf("%s → %s (%s)", target, m.Template(res.Index), res.Kind)
		for i := range res.NumParams() {
			fmt.Printf(" %s=%s", m.ParamNames(res.Index)[i], res.Value(c.Path, i))
		}
		fmt.Println()
	}
	// Output:
	// /api/v1/orders/42?x=1 → /api/{version}/orders/{id} (template) version=v1 id=42
	// /api/v1/%6Frders/42/ → /api/{version}/orders/{id} (template) version=v1 id=42
	// /api/../admin → 400
	// /api%2Fadmin → 400
	// /site.css → /*.css (suffix)
}

func ExampleCanonicalize_keycloak() {
	c, err := pathmatch.Canonicalize("//api/foo/../admin;x=1/?q", pathmatch.ModeKeycloak, pathmatch.Limits{})
	fmt.Println(c.Path, err)
	// Output: /api/admin <nil>
}

func ExampleValidateTemplate() {
	for _, t := range []string{"/api/{id}", "/api/{id}.json", "/api/*/x", "/a//b"} {
		fmt.Println(pathmatch.ValidateTemplate(t))
	}
	// Output:
	// <nil>
	// pathmatch: invalid path template "/api/{id}.json": a placeholder must be a whole segment ('{id}.json' never matches)
	// pathmatch: invalid path template "/api/*/x": '*' is only supported as a trailing '/*' or a suffix pattern '/*.ext'
	// pathmatch: invalid path template "/a//b": empty segment ('//')
}
