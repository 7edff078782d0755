package keycloak

import (
	"encoding/json"
	"fmt"
	"testing/fstest"

	"github.com/rptguard/rptguard/policies"
)

// Source returns the translation as a [policies.Source]: the modules and the
// data document, for [policies.WithSources] or [policies.Engine.Reload]. The
// Result must not be modified afterwards.
func (r *Result) Source() policies.Source {
	fsys := fstest.MapFS{}
	for name, text := range r.Modules {
		fsys[name] = &fstest.MapFile{Data: []byte(text), Mode: 0o444}
	}
	if b, err := json.Marshal(r.Data); err == nil {
		fsys["data.json"] = &fstest.MapFile{Data: b, Mode: 0o444}
	}
	return policies.FromFS(fsys, ".")
}

// DataJSON returns the data document as indented JSON, for writing next to
// the modules (a bundle or a policy directory: save it as data.json at the
// root).
func (r *Result) DataJSON() ([]byte, error) {
	b, err := json.MarshalIndent(r.Data, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("keycloak: encode data: %w", err)
	}
	return b, nil
}
