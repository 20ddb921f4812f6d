// The OpenID Connect provider that tests/test_sso.py starts: panva's oidc-provider (an OpenID Certified
// implementation, from npm), configured here and nothing more. Its login and consent pages are the library's own
// (devInteractions: any password is taken; the accounts below are the only people it knows). The signing key is
// the library's development key, made at start.
//   OIDC_PORT=9000 OIDC_CLIENT_SECRET=... OIDC_REDIRECT_URIS=http://localhost/login/sso/callback node provider.mjs
import Provider from 'oidc-provider';

const port = Number(process.env.OIDC_PORT);
const issuer = `http://127.0.0.1:${port}`;

// Test people, by login (= their stable subject, "sub"): the claims a province's identity service gives.
const ACCOUNTS = {
  'an.nguyen': {
    preferred_username: 'nguyenvana', name: 'Nguyễn Văn An', email: 'an.nguyen@thanhhoa.gov.vn',
    email_verified: true, ioc_department: 'SO-NNMT', ioc_groups: ['staff', 'ioc-officers'],
  },
  'binh.le': {
    preferred_username: 'lethibinh', name: 'Lê Thị Bình', email: 'binh.le@thanhhoa.gov.vn',
    email_verified: true, ioc_department: 'VP-UBND', ioc_groups: ['staff', 'ioc-leaders'],
  },
};

const provider = new Provider(issuer, {
  clients: [{
    client_id: 'ioc',
    client_secret: process.env.OIDC_CLIENT_SECRET,
    redirect_uris: (process.env.OIDC_REDIRECT_URIS || '').split(',').filter(Boolean),
  }],
  claims: {
    openid: ['sub'],
    profile: ['name', 'preferred_username'],
    email: ['email', 'email_verified'],
    ioc: ['ioc_department', 'ioc_groups'],
  },
  pkce: { required: () => true },
  cookies: { keys: ['the test provider\'s cookie key'] },
  async findAccount(ctx, sub) {
    const account = ACCOUNTS[sub];
    return account && { accountId: sub, claims: async () => ({ sub, ...account }) };
  },
});

provider.listen(port, '127.0.0.1', () => console.log(`oidc-provider listening at ${issuer}`));
