// Package interop holds rptguard's interoperability tests against an
// authorization server that rptguard's authors did not write: panva's
// OpenID-certified oidc-provider (Node.js, pinned in server/package.json),
// configured in server/server.mjs to issue Keycloak-style access tokens
// (RS256 JWTs with typ "at+jwt" per RFC 9068, plus opaque tokens) through the
// client-credentials grant, with RFC 7662 introspection and RFC 7009
// revocation.
//
// The package has no API; its tests start the Node server on loopback as a
// subprocess and drive rpt.Verifier and introspection.Client against it.
// They are skipped when node or server/node_modules is missing (run
// `npm ci --prefix interop/server` first), unless RPTGUARD_INTEROP_NODE=1 is
// set, as CI does: then a server that cannot start fails the tests.
package interop
