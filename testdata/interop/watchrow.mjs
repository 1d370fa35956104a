// The TypeScript SDK client as one more host on a shared data file: run by
// cmd/mcp-sync/relay_test.go.
//
//   node watchrow.mjs KEY COMMAND [ARGS...]
//
// It starts COMMAND (an mcp-sync serve) over stdio, subscribes to the todo
// KEY, prints "ready" once subscribed, then, for each update notification,
// reads the row and prints its text on a line of its own. It writes the todo
// "ts-<KEY>" (text "from the TypeScript host") once subscribed, and ends when
// its stdin closes.

import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { ResourceUpdatedNotificationSchema } from '@modelcontextprotocol/sdk/types.js';

const [key, command, ...args] = process.argv.slice(2);
if (!key || !command) {
  console.error('usage: watchrow.mjs KEY COMMAND [ARGS...]');
  process.exit(2);
}
const client = new Client({ name: 'mcp-sync-watchrow', version: '1.0.0' }, { capabilities: {} });
const transport = new StdioClientTransport({ command, args, stderr: 'inherit' });
const uri = `mcp-sync://table/todos/${encodeURIComponent(key)}`;
client.setNotificationHandler(ResourceUpdatedNotificationSchema, async (n) => {
  if (n.params.uri !== uri) return;
  const read = await client.readResource({ uri });
  const body = read.contents?.[0]?.text ?? '';
  try {
    const row = JSON.parse(body);
    console.log(JSON.stringify({ text: (row.value ?? row).text ?? '' }));
  } catch {
    console.log(JSON.stringify({ raw: body }));
  }
});
await client.connect(transport);
await client.subscribeResource({ uri });
const set = await client.callTool({ name: 'setTodo', arguments: { id: `ts-${key}`, text: 'from the TypeScript host', completed: false } });
if (set.isError) {
  console.error('setTodo failed', JSON.stringify(set));
  process.exit(1);
}
console.log('ready');
process.stdin.resume();
process.stdin.on('end', async () => {
  await client.close();
  process.exit(0);
});
