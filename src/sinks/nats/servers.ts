/**
 * The NATS client reads host and port from a server URL and ignores the rest:
 * the scheme (tls:// = TLS required) and credentials in the URL
 * (nats://user:pass@host, nats://token@host) are taken out here.
 */
export interface ServerAddresses {
  /** host:port of each server, in the order given. */
  readonly servers: string[];
  readonly tlsRequired: boolean;
  readonly user?: string;
  readonly password?: string;
  readonly token?: string;
}

const decode = (text: string): string => {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
};

export function serverAddresses(urls: readonly string[]): ServerAddresses {
  const servers: string[] = [];
  let tlsRequired = false;
  let credentials: Pick<ServerAddresses, 'user' | 'password' | 'token'> = {};
  for (const url of urls) {
    const parsed = new URL(url);
    servers.push(`${parsed.hostname}:${parsed.port || '4222'}`);
    if (parsed.protocol === 'tls:') tlsRequired = true;
    // The first URL with credentials gives them: the client sends one set to whichever server it reaches.
    if (Object.keys(credentials).length > 0 || parsed.username === '') continue;
    credentials = parsed.password === '' ? { token: decode(parsed.username) } : { user: decode(parsed.username), password: decode(parsed.password) };
  }
  return { servers, tlsRequired, ...credentials };
}

/** The URL for messages: scheme, host and port, never the credentials. */
export function describeServers(urls: readonly string[]): string {
  return urls
    .map((url) => {
      try {
        const parsed = new URL(url);
        return `${parsed.protocol}//${parsed.host}`;
      } catch {
        return '(invalid url)';
      }
    })
    .join(',');
}
