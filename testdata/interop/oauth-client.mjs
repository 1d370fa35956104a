// The TypeScript SDK client as an OAuth client of mcp-sync: it starts with
// no token, meets the server's 401, finds the authorization server through
// the protected-resource metadata the challenge names, gets a token with
// the client-credentials grant and calls a tool. Run by
// cmd/mcp-sync/oauth_test.go:
//
//   node oauth-client.mjs MCP_URL CLIENT_ID CLIENT_SECRET ISSUER [SCOPE]
//
// On success it prints one JSON line to stdout and exits 0; on failure it
// prints the error to stderr and exits 1.

import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { ClientCredentialsProvider } from '@modelcontextprotocol/sdk/client/auth-extensions.js';

const [url, clientId, clientSecret, issuer, scope] = process.argv.slice(2);
if (!url || !clientId || !clientSecret || !issuer) {
  console.error('usage: oauth-client.mjs MCP_URL CLIENT_ID CLIENT_SECRET ISSUER [SCOPE]');
  process.exit(2);
}

const provider = new ClientCredentialsProvider({ clientId, clientSecret, expectedIssuer: issuer, scope });
const transport = new StreamableHTTPClientTransport(new URL(url), { authProvider: provider });
const client = new Client({ name: 'mcp-sync-oauth-interop', version: '1.0.0' });

try {
  await client.connect(transport);
  const { tools } = await client.listTools();
  const res = await client.callTool({
    name: 'setTodo',
    arguments: { id: 'oauth-1', text: 'written by an OAuth client', completed: false },
  });
  if (res.isError) throw new Error(`setTodo failed: ${JSON.stringify(res.content)}`);
  const row = await client.callTool({ name: 'get_row', arguments: { table: 'todos', key: 'oauth-1' } });
  console.log(JSON.stringify({
    tools: tools.map((t) => t.name),
    tokenType: provider.tokens()?.token_type ?? '',
    row: row.structuredContent ?? row.content,
  }));
  await client.close();
  process.exit(0);
} catch (err) {
  console.error(err?.stack ?? String(err));
  process.exit(1);
}
