// Package httpx holds the outbound HTTP setup shared by rpt, introspection
// and uma: a client with secure defaults, a resty constructor on a caller's
// *http.Client, URL policy checks, capped body reads and error scrubbing.
//
// Defaults follow the security catalogue (§3 "Recommended defaults", C9,
// D12, D13, H7): 2 s to dial and to finish the TLS handshake, 5 s per call,
// no cookie jar, redirects never followed, response bodies capped, and no
// URL with credentials or a query string in an error text.
//
// This is an internal package: its API may change without notice. Everything
// here is safe for concurrent use.
package httpx

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/go-resty/resty/v2"
)

// Defaults for [NewClient] and [NewResty].
const (
	DialTimeout         = 2 * time.Second
	TLSHandshakeTimeout = 2 * time.Second
	TotalTimeout        = 5 * time.Second
	// DefaultMaxBody caps response bodies read through [NewResty] clients.
	DefaultMaxBody = 1 << 20
)

// Sentinel errors.
var (
	// ErrRedirect is returned (wrapped in *url.Error by net/http) when a
	// server answers with a redirect: redirects are never followed (H7).
	ErrRedirect = errors.New("httpx: redirect not followed")
	// ErrInsecureURL: a configured URL is not https and insecure HTTP was
	// not explicitly allowed, or the URL is otherwise unacceptable.
	ErrInsecureURL = errors.New("httpx: URL not allowed")
	// ErrBodyTooLarge: a response body exceeded its cap.
	ErrBodyTooLarge = errors.New("httpx: response body too large")
)

// NoRedirect is an http.Client CheckRedirect function that refuses every
// redirect.
func NoRedirect(*http.Request, []*http.Request) error { return ErrRedirect }

// NewTransport returns a fresh *http.Transport cloned from
// http.DefaultTransport with the dial and TLS-handshake timeouts of this
// package, a response-header timeout and TLS 1.2 as the minimum.
func NewTransport() *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	d := &net.Dialer{Timeout: DialTimeout, KeepAlive: 30 * time.Second}
	t.DialContext = d.DialContext
	t.TLSHandshakeTimeout = TLSHandshakeTimeout
	t.ResponseHeaderTimeout = TotalTimeout
	t.ExpectContinueTimeout = time.Second
	t.MaxIdleConnsPerHost = 16
	if t.TLSClientConfig != nil {
		t.TLSClientConfig.MinVersion = max(t.TLSClientConfig.MinVersion, 0x0303)
	}
	return t
}

// NewClient returns an *http.Client with secure defaults: [NewTransport],
// a [TotalTimeout] per call, no cookie jar, and redirects refused
// ([NoRedirect]). Each call returns a new client with its own transport.
func NewClient() *http.Client {
	return &http.Client{
		Transport:     NewTransport(),
		Timeout:       TotalTimeout,
		CheckRedirect: NoRedirect,
	}
}

// Option configures [NewResty].
type Option func(*restyOptions)

type restyOptions struct {
	logger  *slog.Logger
	maxBody int
}

// WithLogger routes resty's own log lines to l (debug level for resty's
// debug, warn and error for the rest). Default: silent.
func WithLogger(l *slog.Logger) Option { return func(o *restyOptions) { o.logger = l } }

// WithMaxBody sets the response body cap in bytes (default [DefaultMaxBody]).
func WithMaxBody(n int) Option { return func(o *restyOptions) { o.maxBody = n } }

// NewResty returns a resty client built on a shallow copy of hc (nil means
// [NewClient]). The copy never follows redirects and has no cookie jar; a
// zero Timeout becomes [TotalTimeout]; a nil Transport becomes
// [NewTransport]. hc itself is not modified. Retries are off, resty's logger
// is silent unless [WithLogger] is given, and response bodies are capped
// ([WithMaxBody], default 1 MiB; resty then returns
// resty.ErrResponseBodyTooLarge).
func NewResty(hc *http.Client, opts ...Option) *resty.Client {
	o := restyOptions{maxBody: DefaultMaxBody}
	for _, opt := range opts {
		opt(&o)
	}
	var c http.Client
	if hc == nil {
		c = *NewClient()
	} else {
		c = *hc
	}
	if c.Transport == nil {
		c.Transport = NewTransport()
	}
	if c.Timeout == 0 {
		c.Timeout = TotalTimeout
	}
	c.CheckRedirect = NoRedirect
	c.Jar = nil
	r := resty.NewWithClient(&c)
	r.SetLogger(slogLogger{o.logger})
	r.SetRetryCount(0)
	r.SetResponseBodyLimit(o.maxBody)
	r.SetDisableWarn(true)
	return r
}

// slogLogger adapts *slog.Logger (or nothing) to resty.Logger.
type slogLogger struct{ l *slog.Logger }

func (s slogLogger) Errorf(format string, v ...any) { s.log(slog.LevelError, format, v) }
func (s slogLogger) Warnf(format string, v ...any)  { s.log(slog.LevelWarn, format, v) }
func (s slogLogger) Debugf(format string, v ...any) { s.log(slog.LevelDebug, format, v) }

func (s slogLogger) log(level slog.Level, format string, v []any) {
	if s.l == nil || !s.l.Enabled(context.Background(), level) {
		return
	}
	s.l.Log(context.Background(), level, "resty: "+RedactText(fmt.Sprintf(format, v...)))
}

// CheckURL parses a configured endpoint URL and enforces the transport
// policy: absolute, a host, no user info, no fragment, and scheme https
// unless allowInsecure is true (then http is also accepted). allowInsecure
// MUST NOT be true in production. Errors match [ErrInsecureURL] and contain
// only the redacted URL ([Redact]).
func CheckURL(raw string, allowInsecure bool) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("%w: unparsable URL", ErrInsecureURL)
	}
	switch {
	case u.User != nil:
		return nil, fmt.Errorf("%w: credentials in URL %q", ErrInsecureURL, Redact(raw))
	case u.Host == "" || u.Opaque != "":
		return nil, fmt.Errorf("%w: not an absolute URL %q", ErrInsecureURL, Redact(raw))
	case u.Fragment != "" || strings.Contains(raw, "#"):
		return nil, fmt.Errorf("%w: fragment in URL %q", ErrInsecureURL, Redact(raw))
	case u.Scheme == "https":
		return u, nil
	case u.Scheme == "http" && allowInsecure:
		return u, nil
	default:
		return nil, fmt.Errorf("%w: scheme must be https in %q", ErrInsecureURL, Redact(raw))
	}
}

// Redact returns raw without user info, query and fragment, so it can go
// into an error or a log line. Unparsable input becomes "<invalid URL>".
func Redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "<invalid URL>"
	}
	u.User = nil
	u.RawQuery = ""
	u.ForceQuery = false
	u.Fragment = ""
	u.RawFragment = ""
	return u.String()
}

// RedactText removes user info and query strings from any http(s) URL found
// in free text (for example a resty log line).
func RedactText(s string) string {
	if !strings.Contains(s, "://") {
		return s
	}
	fields := strings.Fields(s)
	for _, f := range fields {
		trimmed := strings.Trim(f, `"'(),;`)
		if strings.HasPrefix(trimmed, "http://") || strings.HasPrefix(trimmed, "https://") {
			s = strings.Replace(s, trimmed, Redact(trimmed), 1)
		}
	}
	return s
}

// ScrubError returns err with every *url.Error in its chain rewritten to a
// redacted URL (net/http puts the full request URL into *url.Error, which can
// hold credentials or query secrets: D13). What the *url.Error wraps is kept,
// so errors.Is(err, context.Canceled) etc. still work; wrappers around the
// *url.Error itself are dropped.
func ScrubError(err error) error {
	if err == nil {
		return nil
	}
	var ue *url.Error
	if !errors.As(err, &ue) {
		return err
	}
	return &url.Error{Op: ue.Op, URL: Redact(ue.URL), Err: ScrubError(ue.Err)}
}

// ReadLimited reads all of r up to max bytes. More than max bytes gives
// [ErrBodyTooLarge] (the excess is not read beyond max+1 bytes).
func ReadLimited(r io.Reader, max int64) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, max+1))
	if err != nil {
		return nil, ScrubError(err)
	}
	if int64(len(b)) > max {
		return nil, ErrBodyTooLarge
	}
	return b, nil
}
