package policies

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/loader"
)

type sourceKind int

const (
	kindFile sourceKind = iota + 1
	kindDir
	kindFS
	kindBundle
	kindBundleFS
	kindModule
)

// Source is one place user policies come from. Build it with [FromFile],
// [FromDir], [FromFS], [FromBundle], [FromBundleFS] or [FromModule]; the zero
// Source is invalid. Sources are read when the engine compiles ([New],
// [Engine.Reload]), not when they are created.
type Source struct {
	kind sourceKind
	path string
	fsys fs.FS
	text string
}

// FromFile loads one file: a Rego module (.rego) or a data document (.json,
// .yaml), placed at the root of data as OPA's loader does.
func FromFile(path string) Source { return Source{kind: kindFile, path: path} }

// FromDir loads every .rego, .json and .yaml file under path with OPA's
// loader (data documents are placed at the data path their directory names).
// Test files (*_test.rego) are skipped.
func FromDir(path string) Source { return Source{kind: kindDir, path: path} }

// FromFS loads every .rego, .json and .yaml file under root in fsys (an
// [embed.FS], for instance), like [FromDir]. Use "." for the whole FS.
func FromFS(fsys fs.FS, root string) Source { return Source{kind: kindFS, fsys: fsys, path: root} }

// FromBundle loads an OPA bundle, either a directory laid out as a bundle or
// a .tar.gz bundle file, with OPA's own bundle loader. The manifest's
// revision becomes the engine's [Engine.Revision] when the bundle is the only
// source. Bundle signatures are not verified: verify bundles before they
// reach the file system, or serve them from a trusted store.
func FromBundle(path string) Source { return Source{kind: kindBundle, path: path} }

// FromBundleFS loads an OPA bundle directory (or a .tar.gz file) at root in
// fsys, like [FromBundle]. With embed, use the all: prefix
// (//go:embed all:bundle) or the .manifest file is left out.
func FromBundleFS(fsys fs.FS, root string) Source {
	return Source{kind: kindBundleFS, fsys: fsys, path: root}
}

// FromModule is a Rego module given as text; name is used in error messages
// and traces ("owner.rego").
func FromModule(name, rego string) Source { return Source{kind: kindModule, path: name, text: rego} }

// String describes the source for logs and errors.
func (s Source) String() string {
	switch s.kind {
	case kindFile:
		return "file " + s.path
	case kindDir:
		return "dir " + s.path
	case kindFS:
		return "fs " + s.path
	case kindBundle:
		return "bundle " + s.path
	case kindBundleFS:
		return "bundle fs " + s.path
	case kindModule:
		return "module " + s.path
	default:
		return "invalid source"
	}
}

// loaded is what one source contributed.
type loaded struct {
	modules  map[string]*ast.Module
	raw      map[string][]byte
	data     map[string]any
	revision string // bundle manifest revision
	bundle   bool
}

// skipTests excludes *_test.rego files and hidden files and directories.
func skipTests(_ string, info fs.FileInfo, depth int) bool {
	name := info.Name()
	if depth > 0 && strings.HasPrefix(name, ".") {
		return true
	}
	return !info.IsDir() && strings.HasSuffix(name, "_test.rego")
}

func (s Source) load(caps *ast.Capabilities) (*loaded, error) {
	fl := loader.NewFileLoader().WithRegoVersion(ast.RegoV1).WithCapabilities(caps).WithProcessAnnotation(true)
	switch s.kind {
	case kindFile, kindDir:
		fi, err := os.Stat(s.path)
		if err != nil {
			return nil, err
		}
		if s.kind == kindFile && fi.IsDir() {
			return nil, errors.New("is a directory")
		}
		if s.kind == kindDir && !fi.IsDir() {
			return nil, errors.New("not a directory")
		}
		res, err := fl.Filtered([]string{s.path}, skipTests)
		if err != nil {
			return nil, err
		}
		return fromResult(res), nil
	case kindFS:
		if s.fsys == nil {
			return nil, errors.New("nil fs.FS")
		}
		res, err := fl.WithFS(s.fsys).Filtered([]string{s.path}, skipTests)
		if err != nil {
			return nil, err
		}
		return fromResult(res), nil
	case kindBundle, kindBundleFS:
		bl := fl.WithSkipBundleVerification(true)
		if s.kind == kindBundleFS {
			if s.fsys == nil {
				return nil, errors.New("nil fs.FS")
			}
			bl = bl.WithFS(s.fsys)
		}
		b, err := bl.AsBundle(s.path)
		if err != nil {
			return nil, err
		}
		l := &loaded{modules: map[string]*ast.Module{}, raw: map[string][]byte{}, data: b.Data, bundle: true}
		l.revision = b.Manifest.Revision
		for _, m := range b.Modules {
			if strings.HasSuffix(m.Path, "_test.rego") {
				continue
			}
			name := s.path + ":" + m.Path
			l.modules[name] = m.Parsed
			l.raw[name] = m.Raw
		}
		return l, nil
	case kindModule:
		m, err := ast.ParseModuleWithOpts(s.path, s.text, ast.ParserOptions{
			RegoVersion: ast.RegoV1, Capabilities: caps, ProcessAnnotation: true,
		})
		if err != nil {
			return nil, err
		}
		return &loaded{
			modules: map[string]*ast.Module{s.path: m},
			raw:     map[string][]byte{s.path: []byte(s.text)},
		}, nil
	default:
		return nil, errors.New("invalid source (use FromFile, FromDir, FromFS, FromBundle or FromModule)")
	}
}

func fromResult(res *loader.Result) *loaded {
	l := &loaded{modules: map[string]*ast.Module{}, raw: map[string][]byte{}, data: res.Documents}
	for name, f := range res.Modules {
		l.modules[name] = f.Parsed
		l.raw[name] = f.Raw
	}
	return l
}

// fingerprint summarises what a watch compares between polls: the names,
// sizes and modification times of every file of the file-system sources.
func fingerprint(srcs []Source) string {
	h := sha256.New()
	for _, s := range srcs {
		fmt.Fprintf(h, "%d\x00%s\x00", s.kind, s.path)
		var fsys fs.FS
		root := s.path
		switch s.kind {
		case kindFile, kindDir, kindBundle:
			fsys = os.DirFS(filepath.Dir(filepath.Clean(s.path)))
			root = filepath.Base(filepath.Clean(s.path))
		case kindFS, kindBundleFS:
			fsys = s.fsys
		default:
			continue
		}
		if fsys == nil {
			continue
		}
		var lines []string
		_ = fs.WalkDir(fsys, root, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				lines = append(lines, p+"\x00err")
				return nil
			}
			info, err := d.Info()
			if err != nil {
				return nil
			}
			lines = append(lines, p+"\x00"+strconv.FormatInt(info.Size(), 10)+"\x00"+strconv.FormatInt(info.ModTime().UnixNano(), 10))
			return nil
		})
		sort.Strings(lines)
		for _, l := range lines {
			h.Write([]byte(l))
			h.Write([]byte{0})
		}
	}
	return hex.EncodeToString(h.Sum(nil))
}
