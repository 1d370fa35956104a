// A todo MCP server as a user would write it by hand with the official
// TypeScript SDK and better-sqlite3 (WAL, synchronous=FULL: every write is
// durable before its answer). `mcp-sync-bench peers` measures mcp-sync
// against it.
//
//   node server.mjs --data FILE [--http 127.0.0.1:0]
//
// Tools: setTodo {id, text, status} (durable write, then
// notifications/resources/updated to the row's subscribers), fill {n}
// (seeding), get_row {table, key}, list_rows {table, after, limit}. Rows are
// resources todo://todos/ID. Over HTTP it logs url=http://…/mcp on stderr
// once listening.

import { createServer } from 'node:http';
import { randomUUID } from 'node:crypto';
import Database from 'better-sqlite3';
import { z } from 'zod';
import { McpServer, ResourceTemplate } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { SubscribeRequestSchema, UnsubscribeRequestSchema } from '@modelcontextprotocol/sdk/types.js';

const args = process.argv.slice(2);
const flag = (name) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
};
const data = flag('--data');
const httpAddr = flag('--http');
if (!data) {
  console.error('usage: server.mjs --data FILE [--http HOST:PORT]');
  process.exit(2);
}

const db = new Database(data);
db.pragma('journal_mode = WAL');
db.pragma('synchronous = FULL');
db.exec('CREATE TABLE IF NOT EXISTS todos (id TEXT PRIMARY KEY, text TEXT NOT NULL, status TEXT NOT NULL)');
const put = db.prepare('INSERT INTO todos (id, text, status) VALUES (?, ?, ?) ON CONFLICT(id) DO UPDATE SET text = excluded.text, status = excluded.status');
const get = db.prepare('SELECT id, text, status FROM todos WHERE id = ?');
const page = db.prepare('SELECT id, text, status FROM todos WHERE id > ? ORDER BY id LIMIT ?');
const fill = db.transaction((n) => {
  for (let i = 0; i < n; i++) put.run(`todo-${String(i).padStart(7, '0')}`, 'a todo of some thirty bytes', 'open');
});

const URI = 'todo://todos/';
const subscribers = new Map(); // uri → Set of McpServer

function newServer() {
  const s = new McpServer({ name: 'peer-ts-sqlite', version: '1' }, { capabilities: { resources: { subscribe: true } } });
  const json = (v) => ({ content: [{ type: 'text', text: JSON.stringify(v) }], structuredContent: v });
  s.registerTool('setTodo', {
    description: "Write a todo (durable: fsync'd before the answer)",
    inputSchema: { id: z.string().min(1), text: z.string(), status: z.string().optional() },
  }, async ({ id, text, status }) => {
    put.run(id, text, status ?? 'open');
    const uri = URI + id;
    for (const sub of subscribers.get(uri) ?? []) {
      sub.server.sendResourceUpdated({ uri }).catch(() => {});
    }
    return json({ ok: true });
  });
  s.registerTool('fill', { description: 'Write n todos in one transaction (seeding for reads)', inputSchema: { n: z.number().int().min(0) } },
    async ({ n }) => { fill(n); return json({ ok: true }); });
  s.registerTool('get_row', { description: 'Read one todo', inputSchema: { table: z.string(), key: z.string() } },
    async ({ key }) => json(get.get(key) ?? {}));
  s.registerTool('list_rows', {
    description: 'List todos in id order, limit at a time after a cursor',
    inputSchema: { table: z.string(), after: z.string().optional(), limit: z.number().int().optional() },
  }, async ({ after, limit }) => {
    const n = limit > 0 && limit <= 1000 ? limit : 100;
    const rows = page.all(after ?? '', n + 1);
    const out = { rows: rows.slice(0, n) };
    if (rows.length > n) out.next = rows[n - 1].id;
    return json(out);
  });
  s.registerResource('todo', new ResourceTemplate(URI + '{id}', { list: undefined }), { mimeType: 'application/json' },
    async (uri, { id }) => ({ contents: [{ uri: uri.href, mimeType: 'application/json', text: JSON.stringify(get.get(id) ?? null) }] }));
  s.server.setRequestHandler(SubscribeRequestSchema, async (req) => {
    const set = subscribers.get(req.params.uri) ?? new Set();
    set.add(s);
    subscribers.set(req.params.uri, set);
    return {};
  });
  s.server.setRequestHandler(UnsubscribeRequestSchema, async (req) => {
    subscribers.get(req.params.uri)?.delete(s);
    return {};
  });
  s.server.onclose = () => { for (const set of subscribers.values()) set.delete(s); };
  return s;
}

if (!httpAddr) {
  await newServer().connect(new StdioServerTransport());
} else {
  const transports = new Map(); // session id → transport
  const http = createServer(async (req, res) => {
    if (!req.url.startsWith('/mcp')) { res.writeHead(404).end(); return; }
    const sid = req.headers['mcp-session-id'];
    let t = sid ? transports.get(sid) : undefined;
    if (!t) {
      if (sid || req.method !== 'POST') { res.writeHead(404).end(); return; }
      t = new StreamableHTTPServerTransport({
        sessionIdGenerator: () => randomUUID(),
        onsessioninitialized: (id) => transports.set(id, t),
      });
      t.onclose = () => { if (t.sessionId) transports.delete(t.sessionId); };
      await newServer().connect(t);
    }
    await t.handleRequest(req, res);
  });
  const [host, port] = httpAddr.split(':');
  http.listen(Number(port), host, () => {
    const a = http.address();
    console.error(`level=INFO msg="serving the TS SDK peer over HTTP" url=http://${a.address}:${a.port}/mcp`);
  });
}
