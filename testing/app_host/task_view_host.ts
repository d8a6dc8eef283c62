/**
 * A host double for the task view, run in the browser page of
 * tests/apps/task_view_browser_test.ts: the host of ext-apps' AppBridge
 * documentation (an MCP `Client` connected to our server, an `AppBridge`
 * forwarding the view's requests to it, a `PostMessageTransport` to the
 * view's iframe), rendering the view as a desktop host does: one sandboxed
 * iframe (`allow-scripts` only) whose document gets the CSP the Apps spec
 * builds from the resource's `_meta.ui.csp`.
 *
 * A workspace member (its deno.json) so it is typed with the DOM library.
 *
 * @module
 */
import {
  AppBridge,
  getToolUiResourceUri,
  type McpUiResourceCsp,
  PostMessageTransport,
  RESOURCE_MIME_TYPE,
} from "@modelcontextprotocol/ext-apps/app-bridge";
import { Client, StreamableHTTPClientTransport } from "@modelcontextprotocol/client";

const HOST = { name: "openclaw-test-host", version: "0.0.0" };

declare global {
  /** Calls `tool` with `args` as a model would, showing its view; resolves to the result. */
  var showToolCall: (
    tool: string,
    args: Record<string, unknown>,
  ) => Promise<Record<string, unknown>>;
}

/** The CSP the Apps spec (Security, "CSP Construction from Metadata") builds for a view. */
function viewCsp(csp: McpUiResourceCsp | undefined): string {
  const resources = csp?.resourceDomains?.join(" ") ?? "";
  return [
    "default-src 'none'",
    `script-src 'self' 'unsafe-inline' ${resources}`,
    `style-src 'self' 'unsafe-inline' ${resources}`,
    `connect-src 'self' ${csp?.connectDomains?.join(" ") ?? ""}`,
    `img-src 'self' data: ${resources}`,
    `font-src 'self' ${resources}`,
    `media-src 'self' data: ${resources}`,
    `frame-src ${csp?.frameDomains?.join(" ") || "'none'"}`,
    "object-src 'none'",
    `base-uri ${csp?.baseUriDomains?.join(" ") || "'self'"}`,
  ].map((d) => d.trim()).join("; ");
}

async function connect(): Promise<Client> {
  const client = new Client(HOST, {
    capabilities: {
      extensions: { "io.modelcontextprotocol/ui": { mimeTypes: [RESOURCE_MIME_TYPE] } },
    },
  });
  await client.connect(new StreamableHTTPClientTransport(new URL("/mcp", location.href)));
  return client;
}

const connected = connect();

globalThis.showToolCall = async (name, args) => {
  const client = await connected;
  const { tools } = await client.listTools();
  const tool = tools.find((t) => t.name === name);
  const uri = tool && getToolUiResourceUri(tool);
  if (!uri) throw new Error(`${name} names no view`);
  const { contents } = await client.readResource({ uri });
  const [content] = contents;
  if (content?.mimeType !== RESOURCE_MIME_TYPE || !("text" in content)) {
    throw new Error(`${uri} is not an MCP Apps document`);
  }
  const meta = content._meta as { ui?: { csp?: McpUiResourceCsp } } | undefined;
  const policy = viewCsp(meta?.ui?.csp);

  const iframe = document.createElement("iframe");
  iframe.setAttribute("sandbox", "allow-scripts");
  iframe.title = "OpenClaw task view";
  document.getElementById("turn")!.append(iframe);

  const capabilities = client.getServerCapabilities();
  const bridge = new AppBridge(client, HOST, {
    openLinks: {},
    serverTools: capabilities?.tools,
    serverResources: capabilities?.resources,
    logging: {},
  }, {
    hostContext: { theme: "light", displayMode: "inline", platform: "web", locale: "en-US" },
  });
  bridge.onsizechange = ({ height }) => {
    if (height !== undefined) iframe.style.height = `${height}px`;
  };
  const initialized = new Promise<void>((resolve) => bridge.oninitialized = () => resolve());
  await bridge.connect(new PostMessageTransport(iframe.contentWindow!, iframe.contentWindow!));
  iframe.srcdoc = content.text.replace(
    "<head>",
    `<head><meta http-equiv="Content-Security-Policy" content="${policy}">`,
  );

  const result = client.callTool({ name, arguments: args });
  await initialized;
  await bridge.sendToolInput({ arguments: args });
  const answer = await result;
  await bridge.sendToolResult(answer);
  return answer as Record<string, unknown>;
};
