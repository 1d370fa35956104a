// Agent frameworks' own MCP clients driving mcp-sync's todo app, the way each
// framework hands MCP tools to a model: LangChain's MCP adapters
// (loadMcpTools, then convertToOpenAITool(t, {strict: true})), the Vercel AI
// SDK's MCP client (createMCPClient().tools()) and the OpenAI Agents SDK
// (MCPServer* and getAllMcpTools with convertSchemasToStrict: true). Run by
// cmd/mcp-sync/agents_test.go on Node 22 (node_modules/node/bin/node):
//
//   node agents.mjs --framework langchain|vercel|openai --transport stdio|http|sse
//        [--era legacy|modern] [--mode tools|long] [--prompt P]
//        (--url URL | -- COMMAND [ARGS...])
//
// --era picks the protocol era where the framework lets its user choose (the
// Vercel client: legacy is 2025-11-25 without discovery, modern 2026-07-28).
// --mode tools (the default) lists the tools, converts each for a model,
// checks the converted schema against OpenAI's strict rules and calls every
// tool through the framework's own tool object. --mode long starts a
// generation directly and, at the same time, through the documented route
// (createAndGenerate, then get_run polled) and, where the framework's client
// can (LangChain's, beneath its tool objects), as a task, and reports how
// each ended. Prints one JSON line on stdout and exits 0 unless the driver itself broke.

const usage = 'usage: agents.mjs --framework langchain|vercel|openai --transport stdio|http|sse [--era legacy|modern] [--mode tools|long] [--prompt P] (--url URL | -- COMMAND [ARGS...])';

function parseArgs(argv) {
  const o = { framework: '', transport: '', era: '', mode: 'tools', prompt: 'a long walk', url: '', command: [] };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--') {
      o.command = argv.slice(i + 1);
      break;
    }
    const key = a.replace(/^--/, '');
    if (!(key in o) || key === 'command' || i + 1 >= argv.length) throw new Error(`${usage}\nbad argument ${a}`);
    o[key] = argv[++i];
  }
  if (!['langchain', 'vercel', 'openai'].includes(o.framework)) throw new Error(`${usage}\nunknown framework ${o.framework}`);
  if (!['stdio', 'http', 'sse'].includes(o.transport)) throw new Error(`${usage}\nunknown transport ${o.transport}`);
  if ((o.transport === 'stdio') !== (o.command.length > 0) || (o.transport !== 'stdio') !== (o.url !== '')) {
    throw new Error(`${usage}\nstdio takes a command after --, http and sse a --url`);
  }
  return o;
}

// strictProblems lists where schema breaks OpenAI's strict function-calling
// rules: every object closed (additionalProperties false) with all its
// properties required, no $schema, and no keyword strict mode refuses.
function strictProblems(schema) {
  const problems = [];
  const walk = (node, at) => {
    if (node === null || typeof node !== 'object') return;
    if (Array.isArray(node)) {
      node.forEach((n, i) => walk(n, `${at}/${i}`));
      return;
    }
    for (const k of ['$schema', 'patternProperties', 'propertyNames', 'unevaluatedProperties', 'if', 'then', 'else', 'not', 'dependentRequired', 'dependentSchemas']) {
      if (k in node) problems.push(`${at || '/'}: has ${k}`);
    }
    const types = [node.type].flat();
    if (types.includes('object') || node.properties) {
      if (node.additionalProperties !== false) problems.push(`${at || '/'}: additionalProperties is ${JSON.stringify(node.additionalProperties)}, want false`);
      const required = new Set(node.required ?? []);
      for (const p of Object.keys(node.properties ?? {})) {
        if (!required.has(p)) problems.push(`${at}/${p}: not in required`);
      }
    }
    if (types.includes('array') && node.items === undefined) problems.push(`${at || '/'}: array without items`);
    for (const [k, v] of Object.entries(node)) {
      if (k === 'properties' || k === '$defs' || k === 'definitions') {
        for (const [p, s] of Object.entries(v ?? {})) walk(s, `${at}/${p}`);
      } else if (['items', 'anyOf', 'oneOf', 'allOf', 'additionalProperties', 'prefixItems'].includes(k)) {
        walk(v, `${at}/${k}`);
      }
    }
  };
  if (schema?.type !== 'object') problems.push(`/: type is ${JSON.stringify(schema?.type)}, want "object"`);
  walk(schema, '');
  return problems;
}

// nullable says whether a converted property accepts null: a strict-mode
// host then sends null for an argument the model leaves out.
function nullable(prop) {
  if (!prop) return false;
  if ([prop.type].flat().includes('null')) return true;
  return (prop.anyOf ?? []).some((s) => s?.type === 'null');
}

// textOf reduces whatever a framework's tool object returned to its text.
function textOf(out) {
  if (out == null) return '';
  if (typeof out === 'string') return out;
  if (Array.isArray(out)) return out.map(textOf).join('\n');
  if (typeof out.text === 'string') return out.text;
  if (Array.isArray(out.content)) return out.content.map(textOf).join('\n');
  if (typeof out.content === 'string') return out.content;
  return JSON.stringify(out);
}

// Each adapter connects a framework's client and returns
// { era, tools: [{name, schema, strict, call(args) -> text}], close } and,
// where the framework offers them, progress() (reports handed to its user)
// and taskCall(name, args) (the call made as a task). era is the protocol
// version the client agreed, read where the client exposes it.

async function langchain(o) {
  const { MultiServerMCPClient } = await import('@langchain/mcp-adapters');
  const { convertToOpenAITool } = await import('@langchain/core/utils/function_calling');
  const conn = o.transport === 'stdio'
    ? { transport: 'stdio', command: o.command[0], args: o.command.slice(1), stderr: 'inherit', restart: { enabled: false } }
    : { transport: o.transport, url: o.url, automaticSSEFallback: false, reconnect: { enabled: false } };
  // Progress notifications the framework hands its user: a long call's
  // reports arrive, yet it still gives up at 60 s.
  let progress = 0;
  const client = new MultiServerMCPClient({
    mcpServers: { todo: conn },
    throwOnLoadError: true,
    onConnectionError: 'throw',
    onProgress: () => progress++,
  });
  const lcTools = await client.getTools();
  // The TypeScript SDK 1.x it uses speaks protocols up to 2025-11-25; only
  // its HTTP transport tells which one was agreed.
  const sdkClient = await client.getClient('todo');
  return {
    era: sdkClient?.transport?.protocolVersion ?? 'legacy',
    tools: lcTools.map((t) => {
      const converted = convertToOpenAITool(t, { strict: true });
      return {
        name: t.name,
        schema: converted.function.parameters,
        strict: converted.function.strict === true,
        call: async (args) => textOf(await t.invoke(args)),
      };
    }),
    progress: () => progress,
    // Its tool objects never call as a task, but the SDK client beneath them
    // (client.getClient) does: the 2025-11-25 experimental tasks.
    taskCall: async (name, args) => {
      const r = { statuses: 0 };
      const stream = sdkClient.experimental.tasks.callToolStream({ name, arguments: args }, undefined, { task: { ttl: 600_000 } });
      for await (const m of stream) {
        if (m.type === 'taskCreated') r.taskId = m.task.taskId;
        else if (m.type === 'taskStatus') {
          r.statuses++;
          r.status = m.task.status;
        } else if (m.type === 'result') r.text = textOf(m.result).slice(0, 400);
        else if (m.type === 'error') throw m.error;
      }
      return r;
    },
    close: () => client.close(),
  };
}

async function vercel(o) {
  const { createMCPClient } = await import('@ai-sdk/mcp');
  const { asSchema } = await import('ai');
  let transport;
  if (o.transport === 'stdio') {
    const { Experimental_StdioMCPTransport } = await import('@ai-sdk/mcp/mcp-stdio');
    transport = new Experimental_StdioMCPTransport({ command: o.command[0], args: o.command.slice(1), stderr: 'inherit' });
  } else {
    transport = { type: o.transport, url: o.url };
  }
  const client = await createMCPClient({
    transport,
    name: 'mcp-sync-agents',
    protocolVersionDiscovery: o.era !== 'legacy',
  });
  const record = await client.tools();
  const tools = [];
  for (const [name, t] of Object.entries(record)) {
    tools.push({
      name,
      schema: await asSchema(t.inputSchema).jsonSchema,
      strict: t.strict === true,
      call: async (args) => {
        const out = await t.execute(args, { toolCallId: `call-${name}`, messages: [] });
        if (out?.isError) throw new Error(textOf(out));
        return textOf(out);
      },
    });
  }
  return { era: client.protocolVersion, tools, close: () => client.close() };
}

async function openai(o) {
  const agents = await import('@openai/agents');
  agents.setTracingDisabled(true);
  const server = o.transport === 'stdio'
    ? new agents.MCPServerStdio({ name: 'todo', command: o.command[0], args: o.command.slice(1) })
    : o.transport === 'http'
      ? new agents.MCPServerStreamableHttp({ name: 'todo', url: o.url })
      : new agents.MCPServerSSE({ name: 'todo', url: o.url });
  await server.connect();
  const runContext = new agents.RunContext({});
  const agent = new agents.Agent({ name: 'interop', instructions: 'unused: no model is called' });
  // errorFunction null: a failed call throws (by default the SDK hands the
  // model a generic sentence instead, without the cause).
  const fnTools = await agents.getAllMcpTools({ mcpServers: [server], runContext, agent, convertSchemasToStrict: true, errorFunction: null });
  return {
    era: server.underlying?.session?.getNegotiatedProtocolVersion?.(),
    tools: fnTools.map((t) => ({
      name: t.name,
      schema: t.parameters,
      strict: t.strict === true,
      call: async (args) => textOf(await t.invoke(runContext, JSON.stringify(args), { toolCall: { callId: `call-${t.name}` } })),
    })),
    close: () => server.close(),
  };
}

// argsFor builds valid arguments for tool from its converted schema: an
// optional property is null where the schema allows null (as a strict-mode
// model sends it) and left out otherwise.
function argsFor(tool, values) {
  const args = {};
  const props = tool.schema?.properties ?? {};
  const required = new Set(tool.schema?.required ?? []);
  for (const [p, s] of Object.entries(props)) {
    if (p in values) args[p] = values[p];
    else if (required.has(p) && nullable(s)) args[p] = null;
    else if (required.has(p)) throw new Error(`${tool.name}: no value for required property ${p}`);
  }
  return args;
}

async function timed(f) {
  const start = Date.now();
  try {
    const text = await f();
    let json = true;
    try {
      JSON.parse(text);
    } catch {
      json = false;
    }
    const res = { ok: true, ms: Date.now() - start, json, text: text.slice(0, 400) };
    // The whole text, for parsed; not printed.
    Object.defineProperty(res, 'full', { value: text, enumerable: false });
    return res;
  } catch (e) {
    return { ok: false, ms: Date.now() - start, error: String(e?.message ?? e).slice(0, 400) };
  }
}

function parsed(res, what) {
  if (!res.ok) throw new Error(`${what}: ${res.error}`);
  try {
    return JSON.parse(res.full);
  } catch {
    throw new Error(`${what}: result is not JSON: ${res.text}`);
  }
}

// everyTool converts and calls every listed tool once, in an order where
// each finds what the previous wrote.
async function everyTool(o, conn, out) {
  const byName = Object.fromEntries(conn.tools.map((t) => [t.name, t]));
  out.strictProblems = {};
  out.strictTools = conn.tools.filter((t) => t.strict).map((t) => t.name);
  for (const t of conn.tools) {
    const p = strictProblems(t.schema);
    if (p.length) out.strictProblems[t.name] = p;
  }
  const id = `${o.framework}-${o.transport}-${o.era || 'default'}`;
  const values = {
    setTodo: { id, text: `from ${o.framework}`, completed: false },
    get_row: { table: 'todos', key: id },
    list_rows: { table: 'todos', prefix: o.framework },
    generateWithAI: { id, prompt: o.prompt },
    createAndGenerate: { id: `${id}-queued`, prompt: o.prompt },
    get_run: {}, // filled from createAndGenerate's answer
    deleteTodo: { id: `${id}-queued` },
  };
  out.calls = {};
  out.args = {};
  for (const name of Object.keys(values)) {
    const t = byName[name];
    if (!t) continue;
    if (name === 'get_run') {
      const runs = parsed(out.calls.createAndGenerate, 'createAndGenerate').runs ?? [];
      values.get_run.id = runs[0]?.id ?? runs[0];
    }
    out.args[name] = argsFor(t, values[name]);
    out.calls[name] = await timed(() => t.call(out.args[name]));
  }
  out.uncalled = conn.tools.map((t) => t.name).filter((n) => !(n in values));
  // A rule the strict schema only words in the description (at most 1000):
  // the server still enforces it, and the framework hands on its message.
  if (byName.list_rows) {
    out.badCall = await timed(() => byName.list_rows.call(argsFor(byName.list_rows, { table: 'todos', limit: 5000 })));
  }
}

// long starts one generation directly and one through the documented route
// at the same time, each through the framework's own tool objects.
async function long(o, conn, out) {
  const byName = Object.fromEntries(conn.tools.map((t) => [t.name, t]));
  for (const n of ['setTodo', 'generateWithAI', 'createAndGenerate', 'get_run']) {
    if (!byName[n]) throw new Error(`tool ${n} not listed`);
  }
  const id = `${o.framework}-long`;
  parsed(await timed(() => byName.setTodo.call(argsFor(byName.setTodo, { id, text: '', completed: false }))), 'setTodo');
  const direct = timed(() => byName.generateWithAI.call(argsFor(byName.generateWithAI, { id, prompt: o.prompt })));
  let task;
  if (conn.taskCall) {
    parsed(await timed(() => byName.setTodo.call(argsFor(byName.setTodo, { id: `${id}-task`, text: '', completed: false }))), 'setTodo');
    const start = Date.now();
    task = conn.taskCall('generateWithAI', { id: `${id}-task`, prompt: o.prompt }).then(
      (r) => ({ ok: true, ms: Date.now() - start, ...r }),
      (e) => ({ ok: false, ms: Date.now() - start, error: String(e?.message ?? e).slice(0, 400) }),
    );
  }
  const route = (async () => {
    const start = Date.now();
    const queued = parsed(await timed(() => byName.createAndGenerate.call(argsFor(byName.createAndGenerate, { id: `${id}-queued`, prompt: o.prompt }))), 'createAndGenerate');
    const runID = queued.runs?.[0]?.id ?? queued.runs?.[0];
    const r = { enqueueMs: Date.now() - start, polls: 0, maxCallMs: 0, status: '' };
    while (Date.now() - start < 300_000) {
      const res = await timed(() => byName.get_run.call(argsFor(byName.get_run, { id: runID })));
      r.polls++;
      r.maxCallMs = Math.max(r.maxCallMs, res.ms);
      const run = parsed(res, 'get_run');
      r.status = run.status;
      if (!['queued', 'running', 'pending', 'retrying'].includes(run.status)) {
        r.run = run;
        break;
      }
      await new Promise((res) => setTimeout(res, 2000));
    }
    r.ms = Date.now() - start;
    return r;
  })();
  out.direct = await direct;
  out.direct.progress = conn.progress?.() ?? -1;
  out.route = await route;
  if (task) out.task = await task;
}

async function main() {
  const o = parseArgs(process.argv.slice(2));
  const out = { framework: o.framework, transport: o.transport, mode: o.mode };
  const started = Date.now();
  const conn = await { langchain, vercel, openai }[o.framework](o);
  try {
    out.era = conn.era;
    out.tools = conn.tools.map((t) => t.name).sort();
    out.schemas = Object.fromEntries(conn.tools.map((t) => [t.name, t.schema]));
    if (o.mode === 'long') await long(o, conn, out);
    else await everyTool(o, conn, out);
  } finally {
    await conn.close();
  }
  out.ms = Date.now() - started;
  console.log(JSON.stringify(out));
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(err?.stack ?? String(err));
    process.exit(1);
  },
);
