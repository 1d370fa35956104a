// A real MCP client (the official TypeScript SDK) driving mcp-sync's todo app
// through a scripted scenario. Run by cmd/mcp-sync/interop_test.go:
//
//   node client.mjs [--token T] stdio COMMAND [ARGS...]
//   node client.mjs [--token T] sse  http://127.0.0.1:PORT/sse
//   node client.mjs [--token T] http http://127.0.0.1:PORT/mcp
//
// On success it prints one JSON line of results to stdout and exits 0; on
// failure it prints the failed step to stderr and exits 1.

import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { SSEClientTransport } from '@modelcontextprotocol/sdk/client/sse.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { ResourceUpdatedNotificationSchema } from '@modelcontextprotocol/sdk/types.js';

const usage = 'usage: client.mjs [--token T] (stdio COMMAND [ARGS...] | sse URL | http URL)';

function fail(step, detail) {
  const err = new Error(`${step}: ${typeof detail === 'string' ? detail : JSON.stringify(detail)}`);
  err.step = step;
  throw err;
}

function check(cond, step, detail) {
  if (!cond) fail(step, detail);
}

function parseArgs(argv) {
  const args = [...argv];
  let token = '';
  if (args[0] === '--token') {
    token = args[1] ?? '';
    args.splice(0, 2);
  }
  const kind = args.shift();
  if (!['stdio', 'sse', 'http'].includes(kind) || args.length === 0) {
    console.error(usage);
    process.exit(2);
  }
  return { token, kind, rest: args };
}

function makeTransport({ token, kind, rest }) {
  const requestInit = token ? { headers: { Authorization: `Bearer ${token}` } } : undefined;
  switch (kind) {
    case 'stdio':
      return new StdioClientTransport({ command: rest[0], args: rest.slice(1), stderr: 'inherit' });
    case 'sse':
      return new SSEClientTransport(new URL(rest[0]), { requestInit });
    case 'http':
      return new StreamableHTTPClientTransport(new URL(rest[0]), { requestInit });
  }
  throw new Error(usage);
}

function withTimeout(promise, ms, step) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${step}: timed out after ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function text(result) {
  return (result.content ?? []).filter((c) => c.type === 'text').map((c) => c.text).join('\n');
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  const transport = makeTransport(opts);
  const client = new Client({ name: 'mcp-sync-interop', version: '1.0.0' }, { capabilities: {} });

  // The SDK runs notification handlers a microtask later but drops a call's
  // progress handler as soon as its result is read, so a report read in the
  // same chunk as the result reaches it as an "unknown token" error even
  // though the server sent it first. Counted apart: sdkLateProgress.
  let sdkLateProgress = 0;
  const otherErrors = [];
  client.onerror = (err) => {
    if (String(err?.message ?? err).includes('progress notification for an unknown token')) sdkLateProgress++;
    else otherErrors.push(String(err?.message ?? err));
  };
  // What the server is answerable for is the order on the wire: count, as
  // the transport hands messages over, progress for a request whose result
  // has already arrived.
  const answered = new Set();
  let wireLateProgress = 0;
  const watchWire = () => {
    const deliver = transport.onmessage;
    transport.onmessage = (msg, extra) => {
      if (msg.id !== undefined && (msg.result !== undefined || msg.error !== undefined)) answered.add(Number(msg.id));
      if (msg.method === 'notifications/progress' && answered.has(Number(msg.params?.progressToken))) wireLateProgress++;
      deliver(msg, extra);
    };
  };

  const updates = []; // {uri, at}
  const waiters = [];
  client.setNotificationHandler(ResourceUpdatedNotificationSchema, (n) => {
    updates.push(n.params.uri);
    for (const w of [...waiters]) w(n.params.uri);
  });
  const waitForUpdate = (uri, ms) =>
    withTimeout(
      new Promise((resolve) => {
        const w = (u) => {
          if (u === uri) {
            waiters.splice(waiters.indexOf(w), 1);
            resolve();
          }
        };
        waiters.push(w);
      }),
      ms,
      `waiting for notifications/resources/updated on ${uri}`,
    );

  const out = { transport: opts.kind };
  const started = Date.now();
  await withTimeout(client.connect(transport), 30_000, 'connect'); // generous: a loaded machine is slow
  watchWire();
  try {
    out.server = client.getServerVersion()?.name;

    // tools/list, resources/list, resources/templates/list.
    const tools = await client.listTools();
    const names = tools.tools.map((t) => t.name);
    for (const want of ['setTodo', 'deleteTodo', 'createAndGenerate', 'generateWithAI', 'get_row', 'list_rows', 'get_run']) {
      check(names.includes(want), 'tools/list', `missing tool ${want}; got ${names.join(', ')}`);
    }
    for (const t of tools.tools) {
      check(t.inputSchema?.type === 'object', 'tools/list', `${t.name}: inputSchema.type is ${t.inputSchema?.type}`);
    }
    const resources = await client.listResources();
    const templates = await client.listResourceTemplates();
    for (const [what, v] of [['tools/list', tools], ['resources/list', resources], ['resources/templates/list', templates]]) {
      check(!JSON.stringify(v).includes('secrets'), what, 'mentions the server-only table "secrets"');
    }
    check(resources.resources.some((r) => r.uri === 'mcp-sync://table/todos'), 'resources/list', 'no mcp-sync://table/todos');
    const templateURIs = templates.resourceTemplates.map((t) => t.uriTemplate);
    check(templateURIs.includes('mcp-sync://table/{table}/{key}'), 'resources/templates/list', `got ${templateURIs.join(', ')}`);
    out.tools = names.length;
    out.resources = resources.resources.length;
    out.templates = templates.resourceTemplates.length;

    const suffix = `${opts.kind}-${process.pid}-${Date.now()}`;

    // setTodo: the committed version comes back as structured content.
    const id = `interop-${suffix}`;
    const set = await client.callTool({ name: 'setTodo', arguments: { id, text: 'first', completed: false } });
    check(!set.isError, 'setTodo', text(set));
    check(set.structuredContent?.version > 0, 'setTodo', `structuredContent ${JSON.stringify(set.structuredContent)}`);
    out.version = set.structuredContent.version;

    // A wrong type is a tool error naming the field, not a protocol error.
    const bad = await client.callTool({ name: 'setTodo', arguments: { id, text: 'x', completed: 'yes' } });
    check(bad.isError === true, 'setTodo with completed: "yes"', `not isError: ${JSON.stringify(bad)}`);
    check(text(bad).includes('/completed'), 'setTodo with completed: "yes"', `message does not name /completed: ${text(bad)}`);
    out.invalidArgsError = text(bad);

    // Subscribe, change the row, and wait for the update; then re-read.
    const uri = `mcp-sync://table/todos/${encodeURIComponent(id)}`;
    await client.subscribeResource({ uri });
    const updated = waitForUpdate(uri, 30_000); // generous: a loaded machine is slow
    const set2 = await client.callTool({ name: 'setTodo', arguments: { id, text: 'second', completed: true } });
    check(!set2.isError, 'setTodo (subscribed)', text(set2));
    const t0 = Date.now();
    await updated;
    out.updateMs = Date.now() - t0;
    const read = await client.readResource({ uri });
    const body = read.contents?.[0]?.text ?? '';
    check(body.includes('"second"') && body.includes(id), 'resources/read', `unexpected contents ${JSON.stringify(read)}`);
    await client.unsubscribeResource({ uri });

    // createAndGenerate: the enqueued action streams text in; poll until ready.
    const gid = `gen-${suffix}`;
    const cg = await client.callTool({ name: 'createAndGenerate', arguments: { id: gid, prompt: 'buy milk' } });
    check(!cg.isError, 'createAndGenerate', text(cg));
    const deadline = Date.now() + 30_000;
    let polls = 0;
    let row;
    for (;;) {
      const got = await client.callTool({ name: 'get_row', arguments: { table: 'todos', key: gid } });
      check(!got.isError, 'get_row', text(got));
      polls++;
      const s = got.structuredContent ?? JSON.parse(text(got));
      row = s.value ?? s.row ?? s;
      if (row?.status === 'ready') break;
      check(row?.status !== 'error', 'createAndGenerate', `row ended in status error: ${JSON.stringify(s)}`);
      check(Date.now() < deadline, 'createAndGenerate', `not ready after 30 s: ${JSON.stringify(s)}`);
      await sleep(50);
    }
    check(typeof row.text === 'string' && row.text.length > 0, 'createAndGenerate', `ready with no text: ${JSON.stringify(row)}`);
    out.generatePolls = polls;
    out.generatedChars = row.text.length;

    // generateWithAI with a progress token: progress per chunk, all before the result.
    const pid = `progress-${suffix}`;
    const seed = await client.callTool({ name: 'setTodo', arguments: { id: pid, text: '', completed: false } });
    check(!seed.isError, 'setTodo (progress seed)', text(seed));
    let progress = 0;
    let resolved = false;
    let afterResult = 0;
    let lastProgress = -1;
    let decreasing = 0; // notifications whose progress is below the previous one's
    const seen = [];
    const gen = await withTimeout(
      client.callTool({ name: 'generateWithAI', arguments: { id: pid, prompt: 'water the plants' } }, undefined, {
        onprogress: (p) => {
          progress++;
          if (resolved) afterResult++;
          seen.push(p.progress);
          if (p.progress < lastProgress) decreasing++;
          lastProgress = p.progress;
        },
        timeout: 30_000,
      }),
      35_000,
      'generateWithAI',
    );
    resolved = true;
    check(!gen.isError, 'generateWithAI', text(gen));
    check(gen.structuredContent?.text?.length > 0, 'generateWithAI', `no text in ${JSON.stringify(gen)}`);
    await sleep(200); // let stragglers arrive so they are counted as late
    check(progress >= 1, 'generateWithAI progress', 'no notifications/progress received');
    // On streamable HTTP the SDK keeps a GET stream open, and mcp-go shares a
    // session's notifications between it and the call's POST stream: two
    // connections, whose relative order nothing guarantees. There the Go
    // side reports late ones as a known issue; elsewhere they fail.
    if (opts.kind !== 'http') {
      check(afterResult === 0 && wireLateProgress === 0, 'generateWithAI progress',
        `${afterResult + wireLateProgress} progress notification(s) arrived after the result`);
    }
    // Out-of-order delivery is reported, not failed: mcp-go's streamable
    // HTTP transport splits a request's notifications between the POST
    // stream and the standalone GET stream (see the interop test).
    out.progressOutOfOrder = decreasing;
    if (decreasing > 0) out.progressSequence = seen;
    out.progress = progress;
    out.lateProgress = afterResult + wireLateProgress;
    out.sdkLateProgress = sdkLateProgress;
    out.updates = updates.length;
    out.errors = otherErrors;
    out.ms = Date.now() - started;
  } finally {
    await client.close().catch(() => {});
  }
  process.stdout.write(JSON.stringify(out) + '\n');
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(`client.mjs: ${err?.stack ?? err}`);
    process.exit(1);
  },
);
