package enforcer

import (
	"net/http"
	"net/url"
)

// Middleware returns a handler that runs the decision pipeline for every
// request and calls next only when it allows:
//
//   - the path is canonicalized from r.RequestURI (never r.URL.Path, which Go
//     has already decoded); on allow the canonical path is written back to
//     r.URL.Path and r.URL.RawPath (in a copy of the request), so next sees
//     exactly the path that was authorized, in both canonicalization modes
//     (security.md F26);
//   - the [AuthorizationContext] goes into the request context ([FromContext]);
//   - HEAD is authorized as GET;
//   - on deny the [DenyHandler] writes the response and next is not called.
//
// Headers such as X-Original-URL, X-Rewrite-URL, X-Forwarded-Prefix and
// X-Forwarded-Path are never used for matching (F28). A panic inside the
// pipeline denies (500) and is logged; panics of next are not recovered.
//
// The handler is safe for concurrent use.
func (e *Enforcer) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := e.st.Load()
		maxTok := s.maxToken
		tok, terr := extractBearer(r.Header, r.URL.RawQuery, maxTok)
		if terr == nil && tok != "" && isFormBody(r) {
			// RFC 6750 §2: a token in the header and in a form body is
			// ambiguous. The body is buffered (bounded) and restored.
			if body, err := bufferBody(r, s.maxBody); err != nil {
				terr = err // ErrBodyTooLarge → 413, ErrBodyUnreadable → 400
			} else if q, err := url.ParseQuery(string(body)); err != nil || q.Has(accessTokenParam) {
				terr = errAmbiguousCredentials
			}
		}
		target := r.RequestURI
		if target == "" { // a request built in-process (tests, handlers calling handlers)
			target = r.URL.RequestURI()
		}
		d := e.decide(r.Context(), &in{
			method: r.Method, target: target, rawQuery: r.URL.RawQuery,
			token: tok, tokenErr: terr, header: r.Header, remoteAddr: r.RemoteAddr, req: r,
		})
		if !d.Allowed {
			e.denyHandler.ServeDenial(w, r, d)
			return
		}
		r2 := r.WithContext(NewContext(r.Context(), d.Context))
		if c := d.canonical; c.Path != "" && (r.URL.Path != c.Decoded || r.URL.RawPath != c.RawPath) {
			u := *r.URL
			c.Apply(&u)
			r2.URL = &u
		}
		next.ServeHTTP(w, r2)
	})
}
