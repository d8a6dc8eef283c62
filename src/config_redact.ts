/**
 * The config as logs and status output may show it: every secret option
 * (gateway tokens, the client secret, the owner password, static bearer
 * tokens, owner tokens, the metrics token) replaced by whether it is set.
 *
 * @module
 */
import type { Config } from "./config.ts";

/** The config with secrets removed, safe for logs and status output. */
export function redactedConfig(config: Config): Record<string, unknown> {
  return {
    ...config,
    instances: config.instances.map(({ token, ...rest }) => ({ ...rest, hasToken: !!token })),
    auth: {
      ...config.auth,
      clientSecret: config.auth.clientSecret ? "[redacted]" : undefined,
      ownerPassword: config.auth.ownerPassword ? "[redacted]" : undefined,
    },
    http: {
      ...config.http,
      authTokens: `${config.http.authTokens.length} configured`,
      ownerTokens: `${config.http.ownerTokens.length} configured`,
      metricsToken: config.http.metricsToken ? "[redacted]" : undefined,
    },
  };
}
