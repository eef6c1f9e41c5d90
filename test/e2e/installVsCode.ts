// Installs what the end-to-end test drives, into the git-ignored .cache/e2e (idempotent):
//   - Node 24 from the npm registry (code-server 4.139 requires it; the project itself runs on Node 20),
//   - code-server@4.139.1 (VS Code 1.139.1 in a browser), built with that Node,
//   - Debian chromium + libkrb5-dev (apt) when /usr/bin/chromium is missing.
// Everything comes from the npm registry and Debian apt, the only sources reachable here.
import { spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';

export const REPO_ROOT = path.resolve(__dirname, '..', '..');
export const CACHE_DIR = path.join(REPO_ROOT, '.cache', 'e2e');
export const NODE_VERSION = '24.21.0';
export const CODE_SERVER_VERSION = '4.139.1';
export const CHROMIUM = '/usr/bin/chromium';

export interface VsCodeInstall {
  /** Directory holding the Node 24 binary (put first on PATH when starting code-server). */
  nodeBinDir: string;
  /** code-server's entry script (run it with the Node 24 binary). */
  codeServerEntry: string;
  chromium: string;
}

const nodeRoot = path.join(CACHE_DIR, 'node24');
// The `node` package's preinstall puts the platform package (binary + headers) under its own node_modules.
const nodePlatformDir = path.join(nodeRoot, 'node_modules', 'node', 'node_modules', `node-${process.platform}-${process.arch}`);
const codeServerRoot = path.join(CACHE_DIR, 'code-server');
const codeServerPkg = path.join(codeServerRoot, 'node_modules', 'code-server');

function run(cmd: string, args: string[], env: NodeJS.ProcessEnv = process.env): void {
  console.log(`[e2e-install] ${cmd} ${args.join(' ')}`);
  const res = spawnSync(cmd, args, { stdio: 'inherit', env });
  if (res.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (exit ${res.status ?? res.signal})`);
}

function installedVersion(pkgDir: string): string | undefined {
  try {
    return (JSON.parse(fs.readFileSync(path.join(pkgDir, 'package.json'), 'utf8')) as { version?: string }).version;
  } catch {
    return undefined;
  }
}

function ensureApt(): void {
  const missing = [fs.existsSync(CHROMIUM) ? undefined : 'chromium',
    fs.existsSync('/usr/include/krb5.h') || fs.existsSync('/usr/include/krb5/krb5.h') ? undefined : 'libkrb5-dev']
    .filter((p): p is string => p !== undefined);
  if (missing.length === 0) return;
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  const apt = (args: string[]): void => (process.getuid?.() === 0 ? run('apt-get', args, env) : run('sudo', ['apt-get', ...args], env));
  apt(['update', '-qq']);
  apt(['install', '-y', '-qq', ...missing]);
}

function ensureNode24(): string {
  const bin = path.join(nodePlatformDir, 'bin');
  if (installedVersion(nodePlatformDir) === NODE_VERSION && fs.existsSync(path.join(bin, 'node'))) return bin;
  fs.mkdirSync(nodeRoot, { recursive: true });
  run('npm', ['install', '--prefix', nodeRoot, '--no-save', '--no-package-lock', `node@${NODE_VERSION}`]);
  if (!fs.existsSync(path.join(bin, 'node'))) throw new Error(`node@${NODE_VERSION} installed, but ${bin}/node is missing`);
  return bin;
}

function ensureCodeServer(nodeBinDir: string): string {
  const entry = path.join(codeServerPkg, 'out', 'node', 'entry.js');
  if (installedVersion(codeServerPkg) === CODE_SERVER_VERSION && fs.existsSync(path.join(codeServerRoot, '.complete'))) return entry;
  fs.mkdirSync(codeServerRoot, { recursive: true });
  const nodeDir = path.dirname(nodeBinDir);
  // code-server's postinstall checks `node --version` and builds native modules against that Node's headers.
  // npm_* variables inherited from an outer `npm run` (npm_config_user_agent names Node 20) would
  // override the inner npm's own view of its Node, and code-server's postinstall reads that agent.
  const inherited = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^npm_/i.test(k)));
  const env = {
    ...inherited,
    PATH: `${nodeBinDir}${path.delimiter}${process.env.PATH ?? ''}`,
    npm_config_nodedir: nodeDir,
    npm_config_onnxruntime_node_install: 'skip',
  };
  run(path.join(nodeBinDir, 'node'), [npmCli(), 'install', '--prefix', codeServerRoot, '--no-save', '--no-package-lock',
    `code-server@${CODE_SERVER_VERSION}`], env);
  if (!fs.existsSync(entry)) throw new Error(`code-server installed, but ${entry} is missing`);
  fs.writeFileSync(path.join(codeServerRoot, '.complete'), `${CODE_SERVER_VERSION}\n`);
  return entry;
}

/** npm's own CLI script, run with Node 24 so that lifecycle scripts see Node 24 too. */
function npmCli(): string {
  const res = spawnSync('npm', ['root', '-g'], { encoding: 'utf8' });
  const cli = path.join(res.stdout.trim(), 'npm', 'bin', 'npm-cli.js');
  if (!fs.existsSync(cli)) throw new Error(`cannot find npm-cli.js (looked at ${cli})`);
  return cli;
}

export function installVsCode(): VsCodeInstall {
  ensureApt();
  const nodeBinDir = ensureNode24();
  const codeServerEntry = ensureCodeServer(nodeBinDir);
  return { nodeBinDir, codeServerEntry, chromium: CHROMIUM };
}

if (require.main === module) {
  const t0 = Date.now();
  const r = installVsCode();
  console.log(JSON.stringify({ ...r, seconds: Math.round((Date.now() - t0) / 1000) }));
}

/** A TCP port nobody listens on now (for code-server). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(port));
    });
    srv.on('error', reject);
  });
}

/** Resolves when `url` answers 200; fails when `server` exits first or the time is up. */
export async function waitForHttp(url: string, timeoutMs: number, server: ChildProcess): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (server.exitCode !== null) throw new Error(`code-server exited with ${server.exitCode}`);
    try {
      if ((await fetch(url)).ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`${url} did not answer within ${timeoutMs} ms`);
}
