/**
 * One sample per default redaction pattern of `@asm/core`: `[category, text containing the secret,
 * the secret itself]`. Fake values, safe to commit; use them to prove that nothing secret reaches
 * a store.
 */
export const SECRET_SAMPLES: readonly (readonly [category: string, text: string, secret: string])[] = [
  ['aws_access_key', 'key AKIAABCDEFGHIJKLMNOP here', 'AKIAABCDEFGHIJKLMNOP'],
  ['aws_secret_key', 'aws_secret_access_key = wJalrXUtnFEMIK7MDENGbPxRfiCY', 'wJalrXUtnFEMIK7MDENGbPxRfiCY'],
  ['gcp_api_key', `gcp AIza${'B'.repeat(35)} end`, `AIza${'B'.repeat(35)}`],
  ['anthropic_key', `ANTHROPIC sk-ant-api03-${'a'.repeat(40)}`, `sk-ant-api03-${'a'.repeat(40)}`],
  ['openai_key', `openai sk-proj-${'A1'.repeat(15)}`, `sk-proj-${'A1'.repeat(15)}`],
  ['openai_legacy_key', `legacy sk-${'a1B2'.repeat(12)}`, `sk-${'a1B2'.repeat(12)}`],
  ['github_pat', `ghp_${'x'.repeat(36)}`, `ghp_${'x'.repeat(36)}`],
  ['github_oauth', `gho_${'y'.repeat(36)}`, `gho_${'y'.repeat(36)}`],
  ['github_app', `ghs_${'z'.repeat(36)}`, `ghs_${'z'.repeat(36)}`],
  ['github_refresh', `ghr_${'w'.repeat(36)}`, `ghr_${'w'.repeat(36)}`],
  ['github_fine_pat', `github_pat_${'Q1_'.repeat(10)}`, `github_pat_${'Q1_'.repeat(10)}`],
  ['gitlab_token', `glpat-${'g'.repeat(20)}`, `glpat-${'g'.repeat(20)}`],
  [
    'jwt_token',
    'jwt eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U',
    'dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U',
  ],
  [
    'bearer_token',
    'Authorization: Bearer abcdefghijklmnopqrstuvwxyz012345',
    'abcdefghijklmnopqrstuvwxyz012345',
  ],
  ['password', 'password=hunter2hunter2', 'hunter2hunter2'],
  ['api_key_generic', 'api_key: 1234567890abcdef', '1234567890abcdef'],
  ['secret_key', 'secret_key=abc123secret', 'abc123secret'],
  ['access_token', 'access_token=tok123tok', 'tok123tok'],
  ['auth_token', 'auth_token: xyz789xyz', 'xyz789xyz'],
  ['connection_string', 'db postgres://user:pass@db.internal:5432/app ok', 'user:pass@db.internal'],
  [
    'private_key',
    '-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA7secretbody\n-----END RSA PRIVATE KEY-----',
    'MIIEowIBAAKCAQEA7secretbody',
  ],
  ['env_secret', 'ENCRYPTION_KEY=deadbeefcafe', 'deadbeefcafe'],
];
