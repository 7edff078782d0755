package enforcer

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"io"
	"maps"
	"sync"
	"time"

	"github.com/rptguard/rptguard/rpt"
)

// DecisionLogPath is the path every decision log event names, as if the
// decision were OPA's data.rptguard.authz.allow.
const DecisionLogPath = "rptguard/authz/allow"

// DefaultLoggedClaims are the token claims a decision log event carries
// unless [WithLoggedClaims] says otherwise.
var DefaultLoggedClaims = []string{"sub", "azp", "iss", "jti"}

// DecisionLogEvent is one decision in OPA's decision log format (the
// EventV1 of OPA's plugins/logs, with the same JSON field names), so that
// pipelines built for OPA decision logs ingest rptguard's unchanged.
//
// It never holds the bearer token, the Authorization or Cookie headers, the
// query string, pushed claims or token claims outside the allow-list: the
// token is masked down to the claims named by [WithLoggedClaims] (by
// default sub, azp, iss, jti), and Masked lists "/input/token" to say so.
type DecisionLogEvent struct {
	// Labels identify the emitter: "id" (random per enforcer), "type"
	// ("rptguard") and any given with [WithLogLabels].
	Labels map[string]string `json:"labels"`
	// DecisionID is a random UUID (version 4) per decision.
	DecisionID string `json:"decision_id"`
	// Path is [DecisionLogPath].
	Path string `json:"path"`
	// Input is the masked input of the decision.
	Input *DecisionLogInput `json:"input,omitempty"`
	// Result is whether the request was allowed.
	Result bool `json:"result"`
	// Masked lists the JSON pointers reduced or removed from the input.
	Masked []string `json:"masked,omitempty"`
	// Timestamp is when the decision was made (the enforcer's clock, UTC).
	Timestamp time.Time `json:"timestamp"`
	// Metrics holds "timer_rptguard_decision_ns", the pipeline's duration.
	Metrics map[string]int64 `json:"metrics,omitempty"`
	// Custom carries rptguard's outcome: status, reason and stale.
	Custom *DecisionLogCustom `json:"custom,omitempty"`
}

// DecisionLogInput is the masked decision input of a [DecisionLogEvent].
type DecisionLogInput struct {
	Request DecisionLogRequest `json:"request"`
	// Resource is the matched resource (nil if none).
	Resource *DecisionLogResource `json:"resource,omitempty"`
	// RequiredScopes are the scopes the method required.
	RequiredScopes []string `json:"required_scopes,omitempty"`
	// Token holds the allow-listed claims of the verified token (nil for
	// anonymous requests and for tokens that failed verification: claims of
	// an unverified token are never logged).
	Token map[string]any `json:"token,omitempty"`
}

// DecisionLogRequest is the request part of a [DecisionLogInput]: no
// headers and no query string.
type DecisionLogRequest struct {
	Method string `json:"method"`
	// Path is the canonical path ("" if the target was refused before
	// canonicalization).
	Path       string `json:"path,omitempty"`
	RemoteAddr string `json:"remote_addr,omitempty"`
}

// DecisionLogResource is the matched resource of a [DecisionLogInput].
type DecisionLogResource struct {
	ID       string `json:"id,omitempty"`
	Name     string `json:"name,omitempty"`
	Type     string `json:"type,omitempty"`
	Template string `json:"template,omitempty"`
}

// DecisionLogCustom is rptguard's part of a [DecisionLogEvent].
type DecisionLogCustom struct {
	Status int    `json:"status"`
	Reason Reason `json:"reason"`
	Stale  bool   `json:"stale,omitempty"`
}

// DecisionLogSink receives decision log events. Log runs on the request
// path, synchronously, after the decision: it must be fast (buffer or hand
// off to a goroutine for slow destinations) and safe for concurrent use.
// ev is owned by the sink. An error is logged (warning) and never changes
// the decision.
type DecisionLogSink interface {
	Log(ctx context.Context, ev *DecisionLogEvent) error
}

// DecisionLogSinkFunc adapts a function to [DecisionLogSink].
type DecisionLogSinkFunc func(ctx context.Context, ev *DecisionLogEvent) error

// Log calls f.
func (f DecisionLogSinkFunc) Log(ctx context.Context, ev *DecisionLogEvent) error { return f(ctx, ev) }

// JSONLinesSink writes each event as one JSON line to an io.Writer, under a
// mutex (safe for concurrent use). Wrap slow writers in a buffer.
type JSONLinesSink struct {
	mu  sync.Mutex
	enc *json.Encoder
}

// NewJSONLinesSink returns a sink writing JSON lines to w.
func NewJSONLinesSink(w io.Writer) *JSONLinesSink {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	return &JSONLinesSink{enc: enc}
}

// Log writes ev as one line.
func (s *JSONLinesSink) Log(_ context.Context, ev *DecisionLogEvent) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.enc.Encode(ev)
}

// DecisionLogOption configures [WithDecisionLog].
type DecisionLogOption func(*decisionLogger)

// WithLoggedClaims replaces the allow-list of token claims copied into
// events ([DefaultLoggedClaims] if not given). Only top-level claims are
// copied, by exact name. Listing nothing logs no claim at all. Choose
// claims that identify, not ones that carry secrets or personal data you
// may not keep.
func WithLoggedClaims(names ...string) DecisionLogOption {
	return func(l *decisionLogger) { l.claims = append([]string{}, names...) }
}

// WithLogLabels adds labels to every event (for example the tenant name).
// "id" and "type" can be overridden.
func WithLogLabels(labels map[string]string) DecisionLogOption {
	return func(l *decisionLogger) { maps.Copy(l.labels, labels) }
}

// WithDecisionLog sends every decision (allow and deny, middleware and
// Decide) to sink as an OPA-format [DecisionLogEvent] with a masked input.
// If sink is nil or the option is not given, no decision log is written.
func WithDecisionLog(sink DecisionLogSink, opts ...DecisionLogOption) Option {
	return func(o *options) {
		if sink == nil {
			o.decisionLog = nil
			return
		}
		l := &decisionLogger{sink: sink, claims: DefaultLoggedClaims,
			labels: map[string]string{"id": newUUID(), "type": "rptguard"}}
		for _, opt := range opts {
			opt(l)
		}
		o.decisionLog = l
	}
}

type decisionLogger struct {
	sink   DecisionLogSink
	claims []string
	labels map[string]string
}

// maskedPointers is what every event reports as masked.
var maskedPointers = []string{"/input/token"}

// logDecision builds and sends the event for d.
func (e *Enforcer) logDecision(ctx context.Context, r *in, d *Decision, start time.Time) {
	l := e.opts.decisionLog
	ev := &DecisionLogEvent{
		Labels:     maps.Clone(l.labels),
		DecisionID: newUUID(),
		Path:       DecisionLogPath,
		Input: &DecisionLogInput{
			Request:        DecisionLogRequest{Method: r.method, Path: d.CanonicalPath, RemoteAddr: r.remoteAddr},
			RequiredScopes: d.RequiredScopes,
		},
		Result:    d.Allowed,
		Masked:    maskedPointers,
		Timestamp: e.now().UTC(),
		Metrics:   map[string]int64{"timer_rptguard_decision_ns": time.Since(start).Nanoseconds()},
		Custom:    &DecisionLogCustom{Status: d.Status, Reason: d.Reason, Stale: d.Stale},
	}
	if d.Template != "" || d.Resource != (Resource{}) {
		ev.Input.Resource = &DecisionLogResource{ID: d.Resource.ID, Name: d.Resource.Name, Type: d.Resource.Type, Template: d.Template}
	}
	if c := r.claims; c != nil && len(l.claims) > 0 {
		tok := make(map[string]any, len(l.claims))
		for _, name := range l.claims {
			if v, ok := c.Raw[name]; ok {
				tok[name] = v
			} else if v := typedClaim(c, name); v != "" {
				tok[name] = v
			}
		}
		if len(tok) > 0 {
			ev.Input.Token = tok
		}
	}
	if err := l.sink.Log(ctx, ev); err != nil {
		e.log.WarnContext(ctx, "enforcer: decision log sink failed", "error", err)
	}
}

// typedClaim returns the identifying claims from the typed fields, for
// claims built without Raw (some verifiers).
func typedClaim(c *rpt.Claims, name string) string {
	switch name {
	case "sub":
		return c.Subject
	case "azp":
		return c.AuthorizedParty
	case "iss":
		return c.Issuer
	case "jti":
		return c.ID
	}
	return ""
}

// newUUID returns a random RFC 9562 version 4 UUID.
func newUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go ≥ 1.24)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	var s [36]byte
	hex.Encode(s[0:8], b[0:4])
	s[8] = '-'
	hex.Encode(s[9:13], b[4:6])
	s[13] = '-'
	hex.Encode(s[14:18], b[6:8])
	s[18] = '-'
	hex.Encode(s[19:23], b[8:10])
	s[23] = '-'
	hex.Encode(s[24:], b[10:])
	return string(s[:])
}
