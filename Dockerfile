# @openclaw/mcp on the official Deno image: non-root, read-only root file
# system friendly (the task store lives on the /data volume).
FROM denoland/deno:2.9.6

WORKDIR /app
COPY deno.json deno.lock ./
COPY main.ts ./
COPY src/ ./src/
# Cache dependencies at build time, so the container needs no registry at run time.
RUN deno install --frozen && deno cache main.ts

ENV OPENCLAW_KV_PATH=/data/tasks.kv \
    HOST=0.0.0.0 \
    PORT=3000
RUN mkdir -p /data && chown deno:deno /data
VOLUME ["/data"]
USER deno
EXPOSE 3000

HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 \
  CMD ["deno", "eval", "const r = await fetch('http://127.0.0.1:' + (Deno.env.get('PORT') ?? '3000') + '/health'); Deno.exit(r.ok ? 0 : 1)"]

# Binding 0.0.0.0 needs authentication: set MCP_AUTH_TOKENS, or AUTH_ENABLED=true with
# MCP_ISSUER_URL and a client (see docs/oauth.md).
ENTRYPOINT ["deno", "run", "--allow-net", "--allow-env", "--allow-read", "--allow-write", "--unstable-kv", "main.ts"]
CMD ["--transport", "http"]
