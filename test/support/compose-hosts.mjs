// Preloaded (node --import) into a pgbridge process by the compose rehearsal:
// connections to a compose service's host:port go to the local service
// instead, for this process only (no /etc/hosts edits, nothing else affected).
//   PGBRIDGE_COMPOSE_HOSTS='{"postgres:5432":"127.0.0.1:5432", ...}'
import dns from 'node:dns';
import net from 'node:net';

const map = new Map(Object.entries(JSON.parse(process.env.PGBRIDGE_COMPOSE_HOSTS ?? '{}')));

function rewrite(options) {
  if (options === null || typeof options !== 'object' || options.host === undefined) return;
  const target = map.get(`${options.host}:${options.port}`);
  if (target === undefined) return;
  const colon = target.lastIndexOf(':');
  options.host = target.slice(0, colon);
  options.port = Number(target.slice(colon + 1));
  // TLS would check the certificate against the compose name; none of these services use it.
}

const connect = net.Socket.prototype.connect;
net.Socket.prototype.connect = function patchedConnect(...args) {
  // net.connect() passes its normalized [options, callback]; a direct call passes (options) or (port, host).
  if (Array.isArray(args[0])) rewrite(args[0][0]);
  else if (typeof args[0] === 'object') rewrite(args[0]);
  else if (typeof args[0] === 'number' || typeof args[0] === 'string') {
    const options = { port: Number(args[0]), host: typeof args[1] === 'string' ? args[1] : 'localhost' };
    rewrite(options);
    if (typeof args[1] === 'string') args[1] = options.host;
    args[0] = options.port;
  }
  return connect.apply(this, args);
};

// Clients that resolve the name themselves before connecting (nats.js, node-redis) ask DNS
// first: a compose service's name resolves to its local service's address. Only the names
// whose local service listens on the same port are answered, so the port stays right.
const addresses = new Map();
for (const [from, to] of map) {
  const [host, port] = [from.slice(0, from.lastIndexOf(':')), from.slice(from.lastIndexOf(':') + 1)];
  if (to.endsWith(`:${port}`)) addresses.set(host, to.slice(0, to.lastIndexOf(':')));
}
const lookup = dns.lookup;
dns.lookup = function patchedLookup(hostname, options, callback) {
  const address = addresses.get(hostname);
  if (address === undefined) return lookup.call(this, hostname, options, callback);
  const cb = typeof options === 'function' ? options : callback;
  const all = typeof options === 'object' && options !== null && options.all;
  const family = net.isIPv6(address) ? 6 : 4;
  process.nextTick(() => (all ? cb(null, [{ address, family }]) : cb(null, address, family)));
  return {};
};
const lookupPromise = dns.promises.lookup;
dns.promises.lookup = function patchedLookupPromise(hostname, options) {
  const address = addresses.get(hostname);
  if (address === undefined) return lookupPromise.call(this, hostname, options);
  const family = net.isIPv6(address) ? 6 : 4;
  return Promise.resolve(typeof options === 'object' && options !== null && options.all ? [{ address, family }] : { address, family });
};
