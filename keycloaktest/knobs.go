package keycloaktest

import (
	"bytes"
	"io"
	"mime"
	"net/http"
	"net/url"
	"time"
)

// Endpoint names one of the server's endpoints, for counters and knobs.
type Endpoint string

// The endpoints. The empty Endpoint means "all" where documented.
const (
	EndpointOIDCDiscovery Endpoint = "openid-configuration"
	EndpointUMADiscovery  Endpoint = "uma2-configuration"
	EndpointJWKS          Endpoint = "certs"
	EndpointToken         Endpoint = "token"
	EndpointIntrospection Endpoint = "introspect"
	EndpointPermission    Endpoint = "permission"
	EndpointResourceSet   Endpoint = "resource_set"
)

const numEndpoints = 7

var allEndpoints = [numEndpoints]Endpoint{EndpointOIDCDiscovery, EndpointUMADiscovery, EndpointJWKS,
	EndpointToken, EndpointIntrospection, EndpointPermission, EndpointResourceSet}

func (e Endpoint) index() int {
	for i, x := range allEndpoints {
		if x == e {
			return i
		}
	}
	return -1
}

// maxBody caps every request body the server reads (1 MiB).
const maxBody = 1 << 20

// RecordedRequest is a copy of a request as the server received it.
type RecordedRequest struct {
	Method string
	URL    *url.URL
	Header http.Header
	// Form holds the query parameters plus, for an
	// application/x-www-form-urlencoded body, the body parameters.
	Form url.Values
	Body []byte
}

func (rr *RecordedRequest) clone() *RecordedRequest {
	if rr == nil {
		return nil
	}
	u := *rr.URL
	form := url.Values{}
	for k, v := range rr.Form {
		form[k] = append([]string(nil), v...)
	}
	return &RecordedRequest{Method: rr.Method, URL: &u, Header: rr.Header.Clone(), Form: form,
		Body: bytes.Clone(rr.Body)}
}

type cannedResponse struct {
	status      int
	header      http.Header
	contentType string
	body        string
}

type knob struct {
	latency time.Duration
	fail    int
	hang    chan struct{} // non-nil while hanging; closed by Heal
	respond *cannedResponse
}

// Requests returns how many requests endpoint e received (all of them,
// including those answered by a knob or with an error).
func (s *Server) Requests(e Endpoint) int {
	i := e.index()
	if i < 0 {
		return 0
	}
	return int(s.counters[i].Load())
}

// ResetCounters sets every request counter to zero and forgets the recorded
// requests.
func (s *Server) ResetCounters() {
	for i := range s.counters {
		s.counters[i].Store(0)
	}
	s.mu.Lock()
	clear(s.last)
	s.mu.Unlock()
}

// LastRequest returns a copy of the last request endpoint e received, or nil.
func (s *Server) LastRequest(e Endpoint) *RecordedRequest {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.last[e].clone()
}

func (s *Server) knobLocked(e Endpoint) *knob {
	k := s.knobs[e]
	if k == nil {
		k = &knob{}
		s.knobs[e] = k
	}
	return k
}

// SetLatency delays every answer of endpoint e by d (0 = none). The delay
// ends early when the request's context ends or the server closes.
func (s *Server) SetLatency(e Endpoint, d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.knobLocked(e).latency = d
}

// Fail makes endpoint e answer status with a Keycloak-style JSON error body
// ({"error":…,"error_description":…}) until [Server.Heal].
func (s *Server) Fail(e Endpoint, status int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.knobLocked(e).fail = status
}

// Hang makes endpoint e hold every request without answering until the
// request's context ends, the server closes, or [Server.Heal] (healed
// requests are then served normally).
func (s *Server) Hang(e Endpoint) {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := s.knobLocked(e)
	if k.hang == nil {
		k.hang = make(chan struct{})
	}
}

// Respond makes endpoint e answer with exactly this status, Content-Type
// (omitted if empty) and body, for malformed or custom answers, until
// [Server.Heal].
func (s *Server) Respond(e Endpoint, status int, contentType, body string) {
	s.RespondWithHeaders(e, status, nil, contentType, body)
}

// RespondWithHeaders is [Server.Respond] with extra response headers (for
// example Retry-After on a 503 or 429). header is copied; contentType, when
// not empty, overrides a Content-Type in header.
func (s *Server) RespondWithHeaders(e Endpoint, status int, header http.Header, contentType, body string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.knobLocked(e).respond = &cannedResponse{status: status, header: header.Clone(), contentType: contentType, body: body}
}

// Heal undoes Fail, Hang, Respond and SetLatency for e ("" = every
// endpoint). Requests held by Hang are released and served.
func (s *Server) Heal(e Endpoint) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for ep, k := range s.knobs {
		if e != "" && ep != e {
			continue
		}
		if k.hang != nil {
			close(k.hang)
		}
		delete(s.knobs, ep)
	}
}

// SetReady(false) makes every endpoint answer 503 with
// {"error":"temporarily_unavailable"}; SetReady(true) restores service.
func (s *Server) SetReady(ready bool) { s.notReady.Store(!ready) }

// record copies the request for LastRequest. It returns false when it has
// already answered (body too large).
func (s *Server) record(ep Endpoint, known bool, w http.ResponseWriter, r *http.Request) bool {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	_ = r.Body.Close()
	if err != nil {
		writeError(w, http.StatusBadRequest, "invalid_request", "Unreadable request body")
		return false
	}
	if len(body) > maxBody {
		writeError(w, http.StatusRequestEntityTooLarge, "invalid_request", "Request body too large")
		return false
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	if !known {
		return true
	}
	form := url.Values{}
	for k, v := range r.URL.Query() {
		form[k] = v
	}
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt == "application/x-www-form-urlencoded" {
		if pf, err := url.ParseQuery(string(body)); err == nil {
			for k, v := range pf {
				form[k] = append(form[k], v...)
			}
		}
	}
	u := *r.URL
	rr := &RecordedRequest{Method: r.Method, URL: &u, Header: r.Header.Clone(), Form: form, Body: body}
	s.mu.Lock()
	s.last[ep] = rr
	s.mu.Unlock()
	return true
}

// applyKnobs applies latency, hang, readiness, canned responses and
// failures. It returns false when the request has been answered (or
// abandoned).
func (s *Server) applyKnobs(w http.ResponseWriter, r *http.Request, ep Endpoint, known bool) bool {
	var k knob
	if known {
		s.mu.RLock()
		if p := s.knobs[ep]; p != nil {
			k = *p
		}
		s.mu.RUnlock()
	}
	if k.latency > 0 {
		t := time.NewTimer(k.latency)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
			return false
		case <-s.closed:
			t.Stop()
			panic(http.ErrAbortHandler) // drop the connection without answering
		}
	}
	if k.hang != nil {
		select {
		case <-k.hang:
			// Healed: serve with the current knobs.
			return s.applyKnobs(w, r, ep, known)
		case <-r.Context().Done():
			return false
		case <-s.closed:
			panic(http.ErrAbortHandler) // drop the connection without answering
		}
	}
	if s.notReady.Load() {
		writeError(w, http.StatusServiceUnavailable, "temporarily_unavailable", "Service Unavailable")
		return false
	}
	if k.respond != nil {
		for name, vs := range k.respond.header {
			for _, v := range vs {
				w.Header().Add(name, v)
			}
		}
		if k.respond.contentType != "" {
			w.Header().Set("Content-Type", k.respond.contentType)
		}
		w.WriteHeader(k.respond.status)
		_, _ = io.WriteString(w, k.respond.body)
		return false
	}
	if k.fail != 0 {
		writeError(w, k.fail, failCode(k.fail), http.StatusText(k.fail))
		return false
	}
	return true
}

func failCode(status int) string {
	switch {
	case status == http.StatusBadRequest:
		return "invalid_request"
	case status == http.StatusUnauthorized:
		return "invalid_client"
	case status == http.StatusForbidden:
		return "access_denied"
	case status == http.StatusNotFound:
		return "not_found"
	case status == http.StatusServiceUnavailable:
		return "temporarily_unavailable"
	case status >= 500:
		return "server_error"
	default:
		return "unknown_error"
	}
}
