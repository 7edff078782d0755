// An independent, OpenID-certified authorization server (panva/oidc-provider)
// for rptguard's interop tests (package interop). Test use only: it serves
// plain HTTP on loopback and its client secrets are fixtures.
//
// Usage: node server.mjs [port]        (or PORT=…; default 0 = a free port)
//        node server.mjs --generate-keys > keys.json   (new fixture keys)
//
// The signing keys are the fixed TEST-ONLY keys in keys.json (generating RSA
// keys at start-up would cost about a second); start-up takes well under 2 s.
//
// Once listening it prints exactly one JSON line on stdout:
//   {"issuer":"http://127.0.0.1:PORT","port":PORT,"jwks_uri":…,
//    "token_endpoint":…,"introspection_endpoint":…,"revocation_endpoint":…,
//    "kid":"interop-1","clients":{…},"resources":{…}}
// Everything else (oidc-provider's notices and warnings) goes to stderr.
//
// Commands on stdin, one per line; each is answered with one JSON line:
//   rotate  switch to the next signing key. The JWKS then lists the new key
//           first and keeps the old one (as Keycloak keeps a passive key),
//           tokens are signed with the new kid, and tokens issued before the
//           rotation stay valid (introspection and revocation share storage).
//           Answer: {"rotated":true,"kid":"interop-2"}
//   ping    answer {"pong":true}
// End of stdin, SIGTERM or SIGINT: close the listener and exit 0.
//
// Tokens (client_credentials grant, client_secret_basic):
//   resource urn:rptguard:orders        aud orders-api, JWT (RS256, typ at+jwt), TTL 300 s
//   resource urn:rptguard:orders-opaque aud orders-api, opaque, TTL 300 s
//   resource urn:rptguard:orders-short  aud orders-api, opaque, TTL 1 s
//   resource urn:rptguard:reports       aud reports-api, opaque, TTL 300 s
// Every access token carries Keycloak-style claims from extraTokenClaims:
// typ "Bearer", azp, realm_access.roles and authorization.permissions
// [{rsid, rsname, scopes}] chosen by (client, resource) in GRANTS below.

import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as readline from 'node:readline';

const KIDS = ['interop-1', 'interop-2'];

if (process.argv[2] === '--generate-keys') {
  const generated = KIDS.map((kid) => ({
    ...crypto.generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ format: 'jwk' }),
    kid,
    alg: 'RS256',
    use: 'sig',
  }));
  process.stdout.write(`${JSON.stringify({
    _comment: 'TEST-ONLY signing keys for the rptguard interop server (loopback tests). Never use them anywhere else. Regenerate with: node server.mjs --generate-keys > keys.json',
    keys: generated,
  }, null, 1)}\n`);
  process.exit(0);
}

// oidc-provider prints notices with console.info (stdout); keep stdout for
// our protocol lines only.
console.info = console.error;
console.log = console.error;

const { default: Provider } = await import('oidc-provider');

const HOST = '127.0.0.1';
const port = Number.parseInt(process.argv[2] ?? process.env.PORT ?? '0', 10);
if (!Number.isInteger(port) || port < 0 || port > 65535) {
  console.error(`invalid port ${process.argv[2] ?? process.env.PORT}`);
  process.exit(2);
}

const CLIENTS = {
  'shop-frontend': 'shop-frontend-secret',
  'shop-readonly': 'shop-readonly-secret',
  'orders-api': 'orders-api-secret',
  'reports-api': 'reports-api-secret',
};

const RESOURCES = {
  'urn:rptguard:orders': {
    audience: 'orders-api', scope: 'read write', accessTokenFormat: 'jwt', accessTokenTTL: 300,
  },
  'urn:rptguard:orders-opaque': {
    audience: 'orders-api', scope: 'read write', accessTokenFormat: 'opaque', accessTokenTTL: 300,
  },
  'urn:rptguard:orders-short': {
    audience: 'orders-api', scope: 'read write', accessTokenFormat: 'opaque', accessTokenTTL: 1,
  },
  'urn:rptguard:reports': {
    audience: 'reports-api', scope: 'read', accessTokenFormat: 'opaque', accessTokenTTL: 300,
  },
};

const ORDERS_ID = '7b6e9a52-3f1d-4c8e-9a0b-1d2c3e4f5a61';
const REPORTS_ID = '0c1d2e3f-4a5b-4c6d-8e7f-9a0b1c2d3e4f';

// GRANTS[client][audience] are the permissions put into the token.
const GRANTS = {
  'shop-frontend': {
    'orders-api': [{ rsid: ORDERS_ID, rsname: 'orders', scopes: ['read', 'write'] }],
    'reports-api': [{ rsid: REPORTS_ID, rsname: 'reports', scopes: ['read'] }],
  },
  'shop-readonly': {
    'orders-api': [{ rsid: ORDERS_ID, rsname: 'orders', scopes: ['read'] }],
  },
};

const { keys } = JSON.parse(fs.readFileSync(new URL('keys.json', import.meta.url), 'utf8'));
if (keys.length !== KIDS.length || keys.some((k, i) => k.kid !== KIDS[i])) {
  console.error('keys.json does not hold the keys', KIDS.join(', '));
  process.exit(2);
}

function configuration(epoch) {
  const active = KIDS[epoch];
  // The active key first, then the previous one (a passive key that still
  // verifies tokens issued before the rotation).
  const jwks = { keys: [keys[epoch], ...(epoch > 0 ? [keys[epoch - 1]] : [])] };
  return {
    clients: Object.entries(CLIENTS).map(([id, secret]) => ({
      client_id: id,
      client_secret: secret,
      grant_types: ['client_credentials'],
      response_types: [],
      redirect_uris: [],
      token_endpoint_auth_method: 'client_secret_basic',
      scope: 'read write',
    })),
    scopes: ['openid', 'read', 'write'],
    jwks,
    // Keycloak applies no clock tolerance of its own to exp either.
    clockTolerance: 0,
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      // Like Keycloak: any confidential client may introspect; only the
      // client a token was issued to may revoke it.
      introspection: {
        enabled: true,
        allowedPolicy: async (_ctx, client) => client.clientAuthMethod !== 'none',
      },
      revocation: {
        enabled: true,
        allowedPolicy: async (_ctx, client, token) => token.clientId === client.clientId,
      },
      resourceIndicators: {
        enabled: true,
        defaultResource: async (_ctx, _client, oneOf) => oneOf,
        useGrantedResource: async () => false,
        getResourceServerInfo: async (_ctx, resourceIndicator) => {
          const rs = RESOURCES[resourceIndicator];
          if (!rs) {
            throw new Provider.errors.InvalidTarget();
          }
          return {
            ...rs,
            ...(rs.accessTokenFormat === 'jwt' ? { jwt: { sign: { alg: 'RS256', kid: active } } } : {}),
          };
        },
      },
    },
    ttl: {
      ClientCredentials: (_ctx, token) => token.resourceServer?.accessTokenTTL ?? 300,
    },
    extraTokenClaims: async (_ctx, token) => {
      const aud = token.resourceServer?.audience;
      const permissions = GRANTS[token.clientId]?.[aud] ?? [];
      return {
        typ: 'Bearer',
        azp: token.clientId,
        realm_access: { roles: ['default-roles-interop', 'offline_access'] },
        authorization: { permissions },
      };
    },
  };
}

const server = http.createServer();
let handler = null;

server.on('request', (req, res) => {
  if (!handler) {
    res.statusCode = 503;
    res.end();
    return;
  }
  handler(req, res);
});

function shutdown(code) {
  server.close(() => process.exit(code));
  server.closeAllConnections();
  setTimeout(() => process.exit(code), 1000).unref();
}

process.on('SIGTERM', () => shutdown(0));
process.on('SIGINT', () => shutdown(0));

server.listen(port, HOST, () => {
  const actual = server.address().port;
  const iss = `http://${HOST}:${actual}`;
  const providers = KIDS.map((_kid, epoch) => {
    const p = new Provider(iss, configuration(epoch));
    p.on('server_error', (_ctx, err) => console.error('server_error', err));
    return p.callback();
  });
  let epoch = 0;
  handler = providers[epoch];

  const out = (obj) => process.stdout.write(`${JSON.stringify(obj)}\n`);
  out({
    issuer: iss,
    port: actual,
    jwks_uri: `${iss}/jwks`,
    token_endpoint: `${iss}/token`,
    introspection_endpoint: `${iss}/token/introspection`,
    revocation_endpoint: `${iss}/token/revocation`,
    kid: KIDS[epoch],
    clients: CLIENTS,
    resources: Object.fromEntries(Object.entries(RESOURCES).map(([k, v]) => [k, {
      audience: v.audience, format: v.accessTokenFormat, ttl: v.accessTokenTTL,
    }])),
  });

  const rl = readline.createInterface({ input: process.stdin });
  rl.on('line', (line) => {
    switch (line.trim()) {
      case 'rotate':
        if (epoch + 1 >= providers.length) {
          out({ error: 'no more keys' });
          return;
        }
        epoch += 1;
        handler = providers[epoch];
        out({ rotated: true, kid: KIDS[epoch] });
        return;
      case 'ping':
        out({ pong: true });
        return;
      default:
        out({ error: 'unknown command' });
    }
  });
  rl.on('close', () => shutdown(0));
});
