package policies_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"os"
	"path/filepath"
	"testing"
	"testing/fstest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rptguard/rptguard/policies"
)

const tagRule = `package rptguard.rules

allowed_tags := {t | some t in data.tags}

tagged if input.request.headers["x-tag"][0] in allowed_tags
`

// writeFiles writes name → content under dir.
func writeFiles(tb testing.TB, dir string, files map[string]string) {
	tb.Helper()
	for name, content := range files {
		p := filepath.Join(dir, name)
		require.NoError(tb, os.MkdirAll(filepath.Dir(p), 0o755))
		require.NoError(tb, os.WriteFile(p, []byte(content), 0o644))
	}
}

func taggedInput(tb testing.TB, tag string) policies.Input {
	tb.Helper()
	return policies.Input{
		Request:  policies.Request{Method: "GET", Headers: map[string][]string{"X-Tag": {tag}}},
		Resource: policies.Resource{ID: "r"},
		Token:    tokenWith(tb, perm("r", "R")),
		Rule:     "rules.tagged",
	}
}

func allowed(tb testing.TB, e *policies.Engine, in policies.Input) bool {
	tb.Helper()
	d, err := e.Evaluate(context.Background(), in)
	require.NoError(tb, err)
	return d.Allow
}

func TestReload(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{
		"rules.rego":      tagRule,
		"data.json":       `{"tags": ["blue"]}`,
		"rules_test.rego": "package rptguard.rules_test\n\ntest_x if true\n",
	})
	e := newEngine(t, policies.WithSources(policies.FromDir(dir)))
	rev1 := e.Revision()
	assert.Regexp(t, `^sha256:[0-9a-f]{32}$`, rev1)
	assert.True(t, allowed(t, e, taggedInput(t, "blue")))
	assert.False(t, allowed(t, e, taggedInput(t, "red")))

	// A good update: new data.
	writeFiles(t, dir, map[string]string{"data.json": `{"tags": ["blue", "red"]}`})
	require.NoError(t, e.Reload(context.Background()))
	rev2 := e.Revision()
	assert.NotEqual(t, rev1, rev2)
	assert.True(t, allowed(t, e, taggedInput(t, "red")))

	// A broken update keeps the current set.
	writeFiles(t, dir, map[string]string{"broken.rego": "package rptguard.user\n\ndeny contains \"x\" if input.toekn\n"})
	err := e.Reload(context.Background())
	require.ErrorIs(t, err, policies.ErrCompile)
	assert.Contains(t, err.Error(), "input.toekn")
	assert.Equal(t, rev2, e.Revision())
	assert.True(t, allowed(t, e, taggedInput(t, "red")))

	// Explicit sources replace the current ones.
	require.NoError(t, e.Reload(context.Background(), policies.FromModule("r.rego", "package rptguard.rules\n\ntagged := true\n")))
	assert.True(t, allowed(t, e, taggedInput(t, "green")))
	require.ErrorIs(t, e.Reload(context.Background(), policies.FromFile(filepath.Join(dir, "missing.rego"))), policies.ErrCompile)
	assert.True(t, allowed(t, e, taggedInput(t, "green")))
}

func TestWatch(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"rules.rego": tagRule, "data.json": `{"tags": ["blue"]}`})
	type result struct {
		rev string
		err error
	}
	reloads := make(chan result, 10)
	e := newEngine(t,
		policies.WithSources(policies.FromDir(dir)),
		policies.WithWatch(10*time.Millisecond),
		policies.WithOnReload(func(rev string, err error) { reloads <- result{rev, err} }),
	)
	rev1 := e.Revision()
	wait := func() result {
		t.Helper()
		select {
		case r := <-reloads:
			return r
		case <-time.After(5 * time.Second):
			t.Fatal("no reload")
			return result{}
		}
	}

	writeFiles(t, dir, map[string]string{"data.json": `{"tags": ["blue", "green"]}`})
	r := wait()
	require.NoError(t, r.err)
	assert.NotEqual(t, rev1, r.rev)
	assert.True(t, allowed(t, e, taggedInput(t, "green")))

	writeFiles(t, dir, map[string]string{"data.json": `{"tags": [`})
	r = wait()
	require.ErrorIs(t, r.err, policies.ErrCompile)
	assert.True(t, allowed(t, e, taggedInput(t, "green")), "old set kept")

	require.NoError(t, e.Close())
	require.NoError(t, e.Close(), "Close is idempotent")
}

// tarGz builds a .tar.gz bundle from name → content.
func tarGz(tb testing.TB, files map[string]string) []byte {
	tb.Helper()
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	for name, content := range files {
		require.NoError(tb, tw.WriteHeader(&tar.Header{Name: "/" + name, Mode: 0o644, Size: int64(len(content)), Typeflag: tar.TypeReg}))
		_, err := tw.Write([]byte(content))
		require.NoError(tb, err)
	}
	require.NoError(tb, tw.Close())
	require.NoError(tb, gz.Close())
	return buf.Bytes()
}

func TestBundles(t *testing.T) {
	t.Parallel()
	files := map[string]string{
		".manifest":           `{"revision": "v42", "roots": ["rptguard/rules", "tags"]}`,
		"rules/tag.rego":      tagRule,
		"tags/data.json":      `["blue"]`,
		"rules/tag_test.rego": "package rptguard.rules.tag_test\n\ntest_x if true\n",
	}
	dir := t.TempDir()
	writeFiles(t, dir, files)
	tgz := filepath.Join(t.TempDir(), "bundle.tar.gz")
	require.NoError(t, os.WriteFile(tgz, tarGz(t, files), 0o644))
	mapFS := fstest.MapFS{}
	for name, content := range files {
		mapFS["b/"+name] = &fstest.MapFile{Data: []byte(content)}
	}

	tests := []struct {
		name string
		src  policies.Source
	}{
		{name: "directory", src: policies.FromBundle(dir)},
		{name: "tar.gz", src: policies.FromBundle(tgz)},
		{name: "fs.FS", src: policies.FromBundleFS(mapFS, "b")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newEngine(t, policies.WithSources(tt.src))
			assert.Equal(t, "v42", e.Revision())
			assert.True(t, allowed(t, e, taggedInput(t, "blue")))
			assert.False(t, allowed(t, e, taggedInput(t, "red")))
		})
	}

	t.Run("bundle plus module hashes", func(t *testing.T) {
		t.Parallel()
		e := newEngine(t, policies.WithSources(policies.FromBundle(tgz), policies.FromModule("x.rego", "package x\n\ny := 1\n")))
		assert.Regexp(t, `^sha256:`, e.Revision())
	})
	t.Run("corrupt tar.gz", func(t *testing.T) {
		t.Parallel()
		bad := filepath.Join(t.TempDir(), "bad.tar.gz")
		require.NoError(t, os.WriteFile(bad, []byte("not a tarball"), 0o644))
		_, err := policies.New(context.Background(), policies.WithSources(policies.FromBundle(bad)))
		require.ErrorIs(t, err, policies.ErrCompile)
	})
}

func TestSourcesFSAndFiles(t *testing.T) {
	t.Parallel()
	fsys := fstest.MapFS{
		"policies/rules.rego": {Data: []byte(tagRule)},
		"policies/data.json":  {Data: []byte(`{"tags": ["blue"]}`)},
	}
	e := newEngine(t, policies.WithSources(policies.FromFS(fsys, "policies")))
	assert.True(t, allowed(t, e, taggedInput(t, "blue")))

	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"rules.rego": tagRule, "data.json": `{"tags": ["red"]}`})
	e = newEngine(t, policies.WithSources(policies.FromFile(filepath.Join(dir, "rules.rego")), policies.FromFile(filepath.Join(dir, "data.json"))))
	assert.True(t, allowed(t, e, taggedInput(t, "red")))

	for _, src := range []policies.Source{policies.FromFile(dir), policies.FromDir(filepath.Join(dir, "rules.rego")), {}} {
		_, err := policies.New(context.Background(), policies.WithSources(src))
		require.ErrorIs(t, err, policies.ErrCompile, src.String())
	}
	_, err := policies.New(context.Background(), policies.WithSources(
		policies.FromModule("a.json.rego", "package rptguard.rules\n\nx := 1\n"),
		policies.FromFS(fstest.MapFS{"d/data.json": {Data: []byte(`{"rptguard": {"authz": {"allow": true}}}`)}}, "d"),
	))
	require.ErrorIs(t, err, policies.ErrCompile, "data under a reserved package")
}
