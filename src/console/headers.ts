/**
 * On every answer of the HTTP endpoint, the probes' and /metrics' too (the
 * sign-in page loosens the policy for its inline style). Nothing is cached:
 * the console's answers hold dead letters' events and errors.
 */
export const SECURITY_HEADERS: Readonly<Record<string, string>> = {
  'content-security-policy':
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  // Not no-referrer: with it Chromium sends "Origin: null" on the sign-in form's POST, which sameOrigin refuses.
  'referrer-policy': 'same-origin',
  'cache-control': 'no-store',
};

export const JSON_TYPE = 'application/json; charset=utf-8';
export const TEXT_TYPE = 'text/plain; charset=utf-8';
