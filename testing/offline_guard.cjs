// Preloaded into the real OpenClaw gateway (NODE_OPTIONS=--require) so it
// can reach nothing but loopback: DNS lookups of other names fail at once
// (ENOTFOUND) and socket connects to other addresses are refused. Every
// blocked attempt is appended to $OFFLINE_GUARD_LOG as a JSON line.
"use strict";
const dns = require("node:dns");
const net = require("node:net");
const fs = require("node:fs");

const logFile = process.env.OFFLINE_GUARD_LOG;
function note(kind, target) {
  if (!logFile) return;
  try {
    fs.appendFileSync(logFile, JSON.stringify({ kind, target, at: Date.now() }) + "\n");
  } catch {
    // Logging must never break the gateway.
  }
}

function isLoopbackHost(host) {
  if (!host) return true;
  const h = String(host).toLowerCase().replace(/^\[|\]$/g, "");
  return h === "localhost" || h.endsWith(".localhost") || h === "::1" ||
    h === "0:0:0:0:0:0:0:1" || /^127\.\d+\.\d+\.\d+$/.test(h) || /^::ffff:127\./.test(h);
}

function notFound(host) {
  const error = new Error(`getaddrinfo ENOTFOUND ${host} (blocked: loopback only)`);
  error.code = "ENOTFOUND";
  error.hostname = host;
  return error;
}

const originalLookup = dns.lookup;
dns.lookup = function lookup(hostname, options, callback) {
  if (typeof options === "function") {
    callback = options;
    options = {};
  }
  if (!isLoopbackHost(hostname) && net.isIP(hostname) === 0) {
    note("dns", hostname);
    process.nextTick(() => callback(notFound(hostname)));
    return {};
  }
  return originalLookup.call(dns, hostname, options, callback);
};
const originalPromiseLookup = dns.promises.lookup;
dns.promises.lookup = function lookup(hostname, options) {
  if (!isLoopbackHost(hostname) && net.isIP(hostname) === 0) {
    note("dns", hostname);
    return Promise.reject(notFound(hostname));
  }
  return originalPromiseLookup.call(dns.promises, hostname, options);
};

const originalConnect = net.Socket.prototype.connect;
net.Socket.prototype.connect = function connect(...args) {
  let host;
  const first = Array.isArray(args[0]) ? args[0][0] : args[0];
  if (first && typeof first === "object") {
    if (first.path) return originalConnect.apply(this, args); // unix socket
    host = first.host;
  } else if (typeof first === "number" || /^\d+$/.test(String(first))) {
    host = typeof args[1] === "string" ? args[1] : "localhost";
  } else if (typeof first === "string") {
    return originalConnect.apply(this, args); // unix socket path
  }
  if (host && net.isIP(host) !== 0 && !isLoopbackHost(host)) {
    note("connect", host);
    const error = new Error(`connect ECONNREFUSED ${host} (blocked: loopback only)`);
    error.code = "ECONNREFUSED";
    process.nextTick(() => this.destroy(error));
    return this;
  }
  return originalConnect.apply(this, args);
};
