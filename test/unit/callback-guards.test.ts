import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import ts from 'typescript';
import { ROOT } from '../support/local-process';

/**
 * The inventory of every callback that the event loop calls in the media server and `npm start` (and the core they
 * share): a listener given to an emitter (`on`, `once`, `addEventListener`…), a timer, and a function handed to an
 * I/O call (`request`, `handleUpgrade`, `listen`, `send`, `close`, `lookup`…). A throw in any of them would reach
 * the process and end every tenant's calls on it, so each must be one of:
 * - guarded: `guarded(fn)`, `socketGuard(…)(fn)`, or a function whose one statement is `someGuard(…).run(…)`
 *   (ingest-container/src/transport/guard.ts: a throw ends that one connection);
 * - caught: a function whose one statement is a `try` with a `catch`;
 * - one that cannot throw by construction: settling a promise (`resolve`, `reject`), or one log call (core/log.ts
 *   never throws: test/unit/log.test.ts);
 * - or listed below with why it cannot throw, or why a throw there is the process's own business (start-up, signals).
 * A new callback fails this test until it is guarded or listed; a listed one that is gone fails it too.
 */
const REVIEWED: Record<string, string> = {
  "ingest-container/src/calls/agent.ts: setTimeout() => sent": "settles the dial's \"answered\" promise: clears a timer, removes listeners, resolves",
  "ingest-container/src/calls/agent.ts: ws.once('message',sent).once(close) => closed": "the same settle function, resolving false",
  "ingest-container/src/calls/agent.ts: ws.once(message) => sent": "the same settle function",
  "ingest-container/src/calls/agent.ts: signal.addEventListener(abort) => sent": "the same settle function",
  "ingest-container/src/cluster/member.ts: setInterval() => () => { this.beating ??= this.beat() .ca": "starts an async heartbeat whose rejection is caught and logged",
  "ingest-container/src/cluster/relay.ts: inner.once(close) => (code, reason) => { this.lost = code ===": "assignments; closing the outer socket, the part that can throw, runs in its own try/catch",
  "ingest-container/src/cluster/relay.ts: outer.once(close) => settle": "resolves the relay's `closed` promise",
  "ingest-container/src/handoff.ts: process.on(message) => (message: unknown, handle: unknown) => {": "type checks and one log call; the hand-off itself runs under streamGuard",
  "ingest-container/src/ingress.ts: socket.on(error) => () => socket.destroy()": "destroys a socket that failed",
  "ingest-container/src/main.ts: process.once(SIGTERM) => exit('SIGTERM: draining', () => { // As ": "a signal: the process stops; exit() catches its ending's throw or rejection",
  "ingest-container/src/main.ts: process.once(SIGINT) => exit('SIGINT', () => node.close())": "a signal: as above",
  "ingest-container/src/main.ts: process.once(disconnect) => exit('parent gone', () => node.close())": "the parent went away: as above",
  "ingest-container/src/plivo/stream.ts: ws.once(close) => (code, reason) => { // A switched leg le": "assignments (a Buffer's toString cannot throw), then the ending promise is watched by a guard and always resolves `closed`",
  "ingest-container/src/plivo/stream.ts: ws.on(error) => (err: Error & { code?: string }) => { //": "one assignment (the call's end reason)",
  "ingest-container/src/calls/switch-room.ts: setInterval() => () => { // A poll that fails (the table ": "starts a poll whose promise is caught (logged) and settled; nothing else runs in it",
  "ingest-container/src/room/clock.ts: setTimeout() => () => this.run()": "the room tick: run() catches each member's tick and reports it; the rest is arithmetic",
  "ingest-container/src/room/socket.ts: ws.once(close) => (code) => { // Settles whatever leaving ": "leaving runs under a guard, then `closed` is resolved",
  "ingest-container/src/server.ts: setInterval() => () => { this.participants.forEach(beat);": "each connection's heartbeat runs under its own guard",
  "ingest-container/src/transport/endpoint.ts: ws.on(pong) => () => (this.alive = true)": "one assignment",
  "ingest-container/src/transport/flood-meter.ts: setInterval() => () => second++": "one increment",
  "ingest-container/src/transport/message-guard.ts: this.ws.on(message) => (data, isBinary) => { // Messages read b": "the guard itself: a state check, then the handler in a try/catch that closes with 1011",
  "ingest-container/src/transport/open-socket.ts: ws.on(error) => ignore": "an empty function",
  "ingest-container/src/transport/open-socket.ts: options.signal?.addEventListener(abort) => abort": "terminates the socket being dialled (its error goes to `fail`)",
  "ingest-container/src/transport/open-socket.ts: ws.once(open) => () => { settle(); // Bytes that came wit": "removes listeners, adds the empty one, resolves",
  "ingest-container/src/transport/open-socket.ts: ws.on(error) => fail": "removes listeners, keeps an empty one for terminate()'s error, terminates, rejects (the agent-dial fuzz: 80 server behaviours)",
  "ingest-container/src/transport/open-socket.ts: ws.once(unexpected-response) => refused": "calls `fail` with the status",
  "ingest-container/src/transport/output-lag.ts: ws.on(pong) => (data: Buffer) => { if (this.unanswered ": "comparisons and assignments",
  "local/aws.ts: child.stdout.on(data) => (chunk: Buffer) => { out += chunk.toStri": "start-up: reads dynalite's port and resolves",
  "local/kms-emulator.ts: createServer() => (req, res) => void handle(dir, req, res)": "handle() is async and answers 500 on any error it catches",
  "local/media-fleet.ts: stream?.on(data) => (chunk: Buffer) => { const lines = (rest": "splits a media server's output into lines for log.forward (never throws) and stderr",
  "local/media-fleet.ts: setInterval() => () => void this.checkHealth().catch((err": "an async health round whose rejection is caught and logged",
  "local/media-fleet.ts: socket.on(error) => () => socket.destroy()": "destroys a socket that failed",
  "local/media-fleet.ts: reply.on(error) => () => res.destroy()": "destroys the response whose upstream failed",
  "local/media-fleet.ts: upstream.on(error) => () => (res.headersSent ? res.destroy() :": "destroys the response, or answers 502 (headers not sent yet)",
  "local/media-fleet.ts: setTimeout() => () => { child.kill('SIGKILL'); reject(ne": "start-up: a media server that did not start in time is killed",
  "local/media-fleet.ts: child.once(exit) => (code, signal) => { clearTimeout(timer);": "start-up: rejects the start",
  "local/media-fleet.ts: child.on(message) => (message: { type?: string; serverId?: st": "start-up: our own child's ready message, then resolve",
  "local/media-fleet.ts: setTimeout() => () => child.kill('SIGKILL')": "stopping: kills a child that did not stop",
  "local/media-fleet.ts: child.once(exit) => () => { clearTimeout(force); resolve(); ": "stopping: resolves",
  "local/stack.ts: setInterval() => () => { sweeping ??= Promise.resolve() .": "a sweep whose rejection is caught and logged",
  "local/start.ts: process.on(SIGINT) => () => stop('SIGINT')": "a signal: the process stops; stop() catches its ending promise's rejection",
  "local/start.ts: process.on(SIGTERM) => () => stop('SIGTERM')": "as above",
  "local/plivo/emulator.ts: setTimeout() => () => { this.timers.delete(timer); actio": "a call's timer: forgets itself, then `finish`, which catches the ending's rejection",
  "local/plivo/answerers.ts: setTimeout() => () => this.settle(new Error(`the answeri": "a tool's stream not opened in time: clears the timer, forgets the stream, rejects its connect",
  "local/plivo/answerers.ts: setTimeout() => () => this.end()": "a stream its tool did not say closed: counted closed (a flag, a map delete, promises settled)",
  "local/plivo/answerers.ts: ws.once(close) => () => { this.byNumber.delete(key); calle": "a tool gone: map deletes, its streams' promises settled, one log call",
  "local/plivo/emulator.ts: server.on(request) => (req: IncomingMessage, res: ServerRespon": "handle() is async and answers 500 on any error it catches",
  "core/plivo/voice-api.ts: (target.protocol==='https:'?https:http).request() => (response) => { const chunks: Buffer[] =": "adds the response's listeners",
  "core/plivo/voice-api.ts: response.on(data) => (chunk: Buffer) => { if (size < MAX_RESP": "keeps a chunk and counts the size",
  "core/plivo/voice-api.ts: response.on(end) => () => { const text = Buffer.concat(chunk": "joins the chunks, parses JSON in a try/catch, resolves",
  "core/webhooks/delivery.ts: (target.protocol==='https:'?https:http).request() => (response) => { // The status is the ans": "drains the response and resolves its status",
  "core/webhooks/delivery.ts: response.on(error) => () => undefined": "an empty function",
  "core/webhooks/targets.ts: lookup() => (err, addresses) => (err ? reject(err) :": "settles a promise either way",
  "core/webhooks/targets.ts: lookup() => (err, addresses) => { if (err) return ca": "filters the addresses and calls back (a refused address fails that connection)",
};

const EMITTER = new Set(['on', 'once', 'prependListener', 'prependOnceListener', 'addListener', 'addEventListener']);
const TIMERS = new Set(['setTimeout', 'setInterval', 'setImmediate', 'queueMicrotask', 'nextTick']);
const IO = new Set(['request', 'get', 'handleUpgrade', 'listen', 'send', 'close', 'createServer', 'lookup']);
const SETTLERS = /^(resolve|reject|r)$/;
const LOG_CALL = /^(this\.)?(options\.|deps\.)?log\.(debug|info|warn|error)$/;

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    return entry.isDirectory() ? sources(path) : entry.name.endsWith('.ts') ? [path] : [];
  });
}

const text = (node: ts.Node) => node.getText().replace(/\s+/g, ' ');
const isGuard = (expression: ts.Expression) => /guard/i.test(ts.isCallExpression(expression) ? text(expression.expression) : '');

/** Whether `handler` is safe by its shape alone (see the header). */
function safeByShape(handler: ts.Expression): boolean {
  if (isGuard(handler) || (ts.isIdentifier(handler) && SETTLERS.test(handler.text))) return true;
  if (!ts.isArrowFunction(handler) && !ts.isFunctionExpression(handler)) return false;
  const body = handler.body;
  const only = ts.isBlock(body) ? (body.statements.length === 1 ? body.statements[0] : undefined) : body;
  if (!only) return false;
  if (ts.isTryStatement(only)) return only.catchClause !== undefined;
  const expression = ts.isExpressionStatement(only) ? only.expression : ts.isExpression(only) ? only : undefined;
  if (!expression || !ts.isCallExpression(expression)) return false;
  const callee = expression.expression;
  if (ts.isPropertyAccessExpression(callee) && callee.name.text === 'run' && /guard/i.test(text(callee.expression))) return true;
  return SETTLERS.test(text(callee)) || LOG_CALL.test(text(callee));
}

/** Every callback site in `file` that is not safe by its shape, as `file: callee(event) => handler head`. */
function unguardedSites(file: string): string[] {
  const source = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.Latest, true);
  const sites: string[] = [];
  const visit = (node: ts.Node): void => {
    if (ts.isCallExpression(node)) {
      const callee = node.expression;
      const name = ts.isPropertyAccessExpression(callee) ? callee.name.text : ts.isIdentifier(callee) ? callee.text : '';
      const fnLike = (arg: ts.Expression) => ts.isArrowFunction(arg) || ts.isFunctionExpression(arg) || ts.isIdentifier(arg) || ts.isCallExpression(arg);
      const handlers = EMITTER.has(name) && ts.isPropertyAccessExpression(callee)
        ? node.arguments.slice(1).filter(fnLike)
        : TIMERS.has(name)
          ? node.arguments.slice(0, 1)
          : IO.has(name) && !/guard/i.test(text(callee))
            ? node.arguments.filter((arg) => ts.isArrowFunction(arg) || ts.isFunctionExpression(arg))
            : [];
      const [first] = node.arguments;
      const event = EMITTER.has(name) && first && ts.isStringLiteral(first) ? first.text : '';
      for (const handler of handlers.filter((h) => !safeByShape(h))) {
        sites.push(`${relative(ROOT, file)}: ${text(callee).replace(/\s/g, '')}(${event}) => ${text(handler).slice(0, 40)}`);
      }
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return sites;
}

it('every callback the event loop calls in the media server, npm start and core is guarded, caught, or reviewed as unable to throw', () => {
  const found = new Set(['ingest-container/src', 'local', 'core'].flatMap((dir) => sources(join(ROOT, dir))).flatMap(unguardedSites));
  expect([...found].filter((site) => !(site in REVIEWED))).toEqual([]);
  expect(Object.keys(REVIEWED).filter((site) => !found.has(site))).toEqual([]);
});

it('finds an unguarded listener, and takes a guarded one', () => {
  // The scanner itself: a throwing listener is reported; the same listener wrapped in a guard is not.
  const dir = join(ROOT, 'test/unit');
  const probe = (code: string) => {
    const file = join(dir, 'probe.ts');
    const source = ts.createSourceFile(file, code, ts.ScriptTarget.Latest, true);
    return source.statements.flatMap((statement) => {
      const call = ts.isExpressionStatement(statement) && ts.isCallExpression(statement.expression) ? statement.expression : undefined;
      return call ? call.arguments.slice(1).filter((arg) => !safeByShape(arg)).map(text) : [];
    });
  };
  expect(probe("ws.on('message', (data) => { JSON.parse(data); });")).toEqual(['(data) => { JSON.parse(data); }']);
  expect(probe("ws.on('message', guarded((data) => { JSON.parse(data); }));")).toEqual([]);
  expect(probe("ws.on('close', () => socketGuard(ws, log, 'x').run(() => room.leave(id)));")).toEqual([]);
  expect(probe("ws.on('close', () => { try { room.leave(id); } catch (err) { log.error('x', { err }); } });")).toEqual([]);
  expect(probe("ws.on('close', () => room.leave(id));")).toEqual(['() => room.leave(id)']);
});
