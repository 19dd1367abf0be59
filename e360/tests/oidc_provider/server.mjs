// A real OpenID Connect provider on loopback for e360's SSO tests.
//
// panva/oidc-provider (an OpenID-certified OP) with one confidential client,
// test accounts checked by password, and a minimal login and consent page a
// browser can click through. PKCE with S256 is required of every client, so a
// successful login proves the relying party sent a code challenge.
//
//   node server.mjs --client-id e360 --client-secret s3cret \
//     --redirect-uri http://127.0.0.1:8000/accounts/oidc/sso/login/callback/
//
// Options (each also read from the environment variable in brackets):
//   --port           port to listen on; 0 picks a free one     [OIDC_PORT, default 0]
//   --host           address to listen on                      [OIDC_HOST, default 127.0.0.1]
//   --issuer         issuer URL                                [OIDC_ISSUER, default http://host:port]
//   --client-id      the relying party's client id             [OIDC_CLIENT_ID]
//   --client-secret  its secret                                [OIDC_CLIENT_SECRET]
//   --redirect-uri   an allowed redirect URI, repeatable       [OIDC_REDIRECT_URIS, space-separated]
//   --accounts       JSON: {"login": {"password": "...", "claims": {...}}}  [OIDC_ACCOUNTS]
//
// Once listening it prints one line, "ready <issuer>", to stdout.

import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import { parseArgs } from 'node:util';

import Provider from 'oidc-provider';

const { values: opts } = parseArgs({
  options: {
    port: { type: 'string', default: process.env.OIDC_PORT ?? '0' },
    host: { type: 'string', default: process.env.OIDC_HOST ?? '127.0.0.1' },
    issuer: { type: 'string', default: process.env.OIDC_ISSUER },
    'client-id': { type: 'string', default: process.env.OIDC_CLIENT_ID },
    'client-secret': { type: 'string', default: process.env.OIDC_CLIENT_SECRET },
    'redirect-uri': { type: 'string', multiple: true, default: (process.env.OIDC_REDIRECT_URIS ?? '').split(/\s+/).filter(Boolean) },
    accounts: { type: 'string', default: process.env.OIDC_ACCOUNTS },
  },
});

function fail(message) {
  process.stderr.write(`oidc test provider: ${message}\n`);
  process.exit(2);
}

if (!opts['client-id'] || !opts['client-secret']) fail('--client-id and --client-secret are required');
if (opts['redirect-uri'].length === 0) fail('at least one --redirect-uri is required');

// Used when no --accounts are given, so the server is also usable by hand.
const DEFAULT_ACCOUNTS = {
  ada: {
    password: 'ada-password',
    claims: { email: 'ada@example.com', email_verified: true, name: 'Ada Lovelace', given_name: 'Ada', family_name: 'Lovelace' },
  },
};
let accounts;
try {
  accounts = opts.accounts ? JSON.parse(opts.accounts) : DEFAULT_ACCOUNTS;
} catch (error) {
  fail(`--accounts is not JSON: ${error.message}`);
}

const escape = (text) => String(text).replace(/[&<>"']/g, (ch) => `&#${ch.charCodeAt(0)};`);

function page(title, body) {
  // No inline script or style: the page works under a strict CSP like the app's.
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${escape(title)} · Test IdP</title></head>
<body><main><h1>${escape(title)}</h1>${body}</main></body></html>`;
}

function loginPage(uid, params, error) {
  return page('Sign in to the test IdP', `
<p>Client <code>${escape(params.client_id)}</code> asks you to sign in.</p>
${error ? `<p role="alert">${escape(error)}</p>` : ''}
<form method="post" action="/interaction/${escape(uid)}/login" autocomplete="off">
  <p><label>Login <input name="login" required autofocus value="${escape(params.login_hint ?? '')}"></label></p>
  <p><label>Password <input name="password" type="password" required></label></p>
  <p><button type="submit">Sign in</button></p>
</form>
<form method="post" action="/interaction/${escape(uid)}/abort"><button type="submit">Cancel</button></form>`);
}

function consentPage(uid, params, details) {
  const scopes = (details.missingOIDCScope ?? []).map((scope) => `<li>${escape(scope)}</li>`).join('');
  return page('Authorize', `
<p>Client <code>${escape(params.client_id)}</code> asks for:</p>
<ul>${scopes || '<li>what you granted before</li>'}</ul>
<form method="post" action="/interaction/${escape(uid)}/confirm"><button type="submit">Allow</button></form>
<form method="post" action="/interaction/${escape(uid)}/abort"><button type="submit">Deny</button></form>`);
}

async function readForm(req) {
  const chunks = [];
  for await (const chunk of req) chunks.push(chunk);
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
}

function send(res, status, html) {
  res.writeHead(status, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
  res.end(html);
}

async function handleInteraction(provider, req, res, uid, action) {
  const { prompt, params, session, grantId } = await provider.interactionDetails(req, res);
  if (req.method === 'GET' && !action) {
    if (prompt.name === 'login') return send(res, 200, loginPage(uid, params));
    if (prompt.name === 'consent') return send(res, 200, consentPage(uid, params, prompt.details));
    return send(res, 501, page('Not implemented', `<p>Prompt ${escape(prompt.name)}.</p>`));
  }
  if (req.method !== 'POST') return send(res, 405, page('Method not allowed', ''));

  if (action === 'abort') {
    const result = { error: 'access_denied', error_description: 'End-User aborted interaction' };
    return provider.interactionFinished(req, res, result, { mergeWithLastSubmission: false });
  }
  if (action === 'login' && prompt.name === 'login') {
    const form = await readForm(req);
    const login = form.get('login') ?? '';
    const account = Object.hasOwn(accounts, login) ? accounts[login] : undefined;
    if (!account || account.password !== form.get('password')) {
      return send(res, 200, loginPage(uid, params, 'Unknown login or wrong password.'));
    }
    return provider.interactionFinished(req, res, { login: { accountId: login } }, { mergeWithLastSubmission: false });
  }
  if (action === 'confirm' && prompt.name === 'consent') {
    const grant = grantId
      ? await provider.Grant.find(grantId)
      : new provider.Grant({ accountId: session.accountId, clientId: params.client_id });
    const { details } = prompt;
    if (details.missingOIDCScope) grant.addOIDCScope(details.missingOIDCScope.join(' '));
    if (details.missingOIDCClaims) grant.addOIDCClaims(details.missingOIDCClaims);
    if (details.missingResourceScopes) {
      for (const [indicator, scope] of Object.entries(details.missingResourceScopes)) {
        grant.addResourceScope(indicator, scope.join(' '));
      }
    }
    const result = { consent: { grantId: await grant.save() } };
    return provider.interactionFinished(req, res, result, { mergeWithLastSubmission: true });
  }
  return send(res, 400, page('Bad request', `<p>Cannot ${escape(action)} at the ${escape(prompt.name)} prompt.</p>`));
}

// The issuer may depend on the port the OS picks, so listen first, then build the provider.
let handler = (req, res) => send(res, 503, page('Starting', ''));
const server = createServer((req, res) => handler(req, res));
server.listen(Number(opts.port), opts.host, () => {
  const { port } = server.address();
  const issuer = (opts.issuer ?? `http://${opts.host}:${port}`).replace(/\/$/, '');
  // A fresh signing key per run: nothing outlives the test session.
  const signingKey = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ format: 'jwk' });

  const provider = new Provider(issuer, {
    clients: [
      {
        client_id: opts['client-id'],
        client_secret: opts['client-secret'],
        redirect_uris: opts['redirect-uri'],
        grant_types: ['authorization_code'],
        response_types: ['code'],
      },
    ],
    // Confidential clients too must send a code challenge, and only the S256 method is accepted.
    pkce: { methods: ['S256'], required: () => true },
    jwks: { keys: [{ ...signingKey, use: 'sig', alg: 'RS256', kid: 'test-key' }] },
    cookies: { keys: [randomBytes(32).toString('hex')] },
    claims: {
      openid: ['sub'],
      email: ['email', 'email_verified'],
      profile: ['name', 'given_name', 'family_name', 'preferred_username'],
    },
    features: { devInteractions: { enabled: false } },
    interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
    async findAccount(ctx, id) {
      if (!Object.hasOwn(accounts, id)) return undefined;
      return { accountId: id, claims: async () => ({ sub: id, ...accounts[id].claims }) };
    },
  });
  // Loopback over plain HTTP only: tell oidc-provider so it does not expect TLS.
  provider.proxy = false;
  const callback = provider.callback();

  handler = (req, res) => {
    // Browsers ask for a favicon on their own; answer it so page checks stay clean.
    if (req.url === '/favicon.ico') return send(res, 204, '');
    const match = /^\/interaction\/([\w-]+)(?:\/(login|confirm|abort))?\/?$/.exec(new URL(req.url, issuer).pathname);
    if (!match) return callback(req, res);
    return handleInteraction(provider, req, res, match[1], match[2]).catch((error) => {
      process.stderr.write(`oidc test provider: ${error.stack ?? error}\n`);
      if (!res.headersSent) send(res, 400, page('Error', `<p>${escape(error.message)}</p>`));
    });
  };
  process.stdout.write(`ready ${issuer}\n`);
});

for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => {
    server.close(() => process.exit(0));
    server.closeAllConnections();
  });
}
