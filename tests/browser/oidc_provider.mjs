// A certified OpenID provider (the npm package oidc-provider) on loopback, for tests/browser/test_sso.py only.
//
//   node oidc_provider.mjs <port> <redirect URIs, comma-separated> <accounts.json>
//
// accounts.json maps a login to its claims, e.g. {"ada": {"email": "ada@example.com", "email_verified": true,
// "name": "Ada Lovelace", "preferred_username": "ada", "groups": ["eng-payments"]}}. It is read again at every
// look-up, so a test changes a person's groups between two sign-ins by rewriting it. The login form is the
// package's development interaction (any password); consent is implied for the one client.
import { readFileSync } from "node:fs";
import Provider from "oidc-provider";

const [port, redirectUris, accountsPath] = process.argv.slice(2);
const issuer = `http://localhost:${port}`;
const redirects = redirectUris.split(",");
const origins = [...new Set(redirects.map((uri) => new URL(uri).origin))];
const SCOPES = "openid email profile groups";

function accounts() {
  return JSON.parse(readFileSync(accountsPath, "utf8"));
}

const provider = new Provider(issuer, {
  clients: [
    {
      client_id: "hindsight-test",
      client_secret: "test-only-client-secret",
      redirect_uris: redirects,
      post_logout_redirect_uris: origins.map((origin) => `${origin}/accounts/login/`),
      response_types: ["code"],
      grant_types: ["authorization_code"],
      token_endpoint_auth_method: "client_secret_post",
      id_token_signed_response_alg: "RS256",
    },
  ],
  scopes: SCOPES.split(" "),
  claims: {
    openid: ["sub"],
    email: ["email", "email_verified"],
    profile: ["name", "given_name", "family_name", "preferred_username"],
    groups: ["groups"],
  },
  cookies: { keys: ["test-only-cookie-key"] },
  features: {
    devInteractions: { enabled: true },
    rpInitiatedLogout: { enabled: true },
  },
  pkce: { required: () => true },
  async findAccount(ctx, sub) {
    const claims = accounts()[sub];
    if (!claims) return undefined;
    return { accountId: sub, claims: async () => ({ sub, ...claims }) };
  },
  async loadExistingGrant(ctx) {
    const grantId = ctx.oidc.session.grantIdFor(ctx.oidc.client.clientId);
    if (grantId) return ctx.oidc.provider.Grant.find(grantId);
    const grant = new ctx.oidc.provider.Grant({
      clientId: ctx.oidc.client.clientId,
      accountId: ctx.oidc.session.accountId,
    });
    grant.addOIDCScope(SCOPES);
    await grant.save();
    return grant;
  },
});

provider.listen(Number(port), "localhost", () => {
  console.log(`oidc-provider listening on ${issuer}`);
});
