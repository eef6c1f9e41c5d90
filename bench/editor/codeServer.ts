// code-server + Chromium, set up as the e2e test does (test/e2e/editor.test.ts): the VSIX from
// scripts/package.mjs installed into a fresh code-server from .cache/e2e, a fresh user-data folder,
// the workbench driven through playwright-core. Everything started here is ended by pid in close().
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { CACHE_DIR, freePort, installVsCode, REPO_ROOT, waitForHttp, type VsCodeInstall } from '../../test/e2e/installVsCode.js';
import { allProcesses, killTree } from './procTree.js';

export const EXTENSION_ID = 'typeguide.typeguide';
/** EditorSession.extensionFolder of a session without TypeGuide: no command line contains it. */
const NOT_INSTALLED = `${EXTENSION_ID}-not-installed-\u0000`;

/**
 * Waits while another process (an e2e run) is installing Node 24 or code-server into .cache/e2e, then
 * installs whatever is missing. Two npm installs into one prefix would corrupt it.
 */
export async function ensureVsCode(log: (m: string) => void, timeoutMs = 20 * 60_000): Promise<VsCodeInstall> {
  const deadline = Date.now() + timeoutMs;
  for (let said = false; ; said = true) {
    const installers = allProcesses().filter((p) => p.pid !== process.pid && / install /.test(p.cmd) && p.cmd.includes(`--prefix ${CACHE_DIR}`));
    if (installers.length === 0) break;
    if (!said) log(`waiting for another install into ${CACHE_DIR} (pid ${installers.map((p) => p.pid).join(', ')})`);
    if (Date.now() > deadline) throw new Error(`another install into ${CACHE_DIR} has not finished in ${timeoutMs / 60_000} min`);
    await new Promise((r) => setTimeout(r, 5000));
  }
  return installVsCode();
}

/** Builds the VSIX with scripts/package.mjs and copies it to `intoDir` (a later package run overwrites out/). */
export function packageVsix(intoDir: string): string {
  const res = spawnSync(process.execPath, [path.join(REPO_ROOT, 'scripts', 'package.mjs')], { cwd: REPO_ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  if (res.status !== 0) throw new Error(`scripts/package.mjs failed (exit ${res.status}):\n${res.stdout}`);
  const built = path.join(REPO_ROOT, (JSON.parse(res.stdout.trim().split('\n').at(-1)!) as { vsix: string }).vsix);
  const copy = path.join(intoDir, path.basename(built));
  fs.copyFileSync(built, copy);
  return copy;
}

export interface EditorSession {
  readonly page: Page;
  readonly serverPid: number;
  readonly userDir: string;
  readonly extensionsDir: string;
  /** The installed extension's folder name (its language servers' command lines contain it); without a
   *  VSIX, a name no process has. */
  readonly extensionFolder: string;
  readonly serverLog: string[];
  /** Ends the browser and code-server with all its descendants (by pid); safe to call twice. */
  close(): Promise<void>;
}

export interface SessionOptions {
  readonly vscode: VsCodeInstall;
  /** The VSIX to install; absent: VS Code alone (the bench's baseline session, nothing of TypeGuide). */
  readonly vsix?: string;
  /** A fresh temporary folder for user data, extensions and XDG folders. */
  readonly tmp: string;
  readonly workspace: string;
  readonly userSettings: Record<string, unknown>;
  readonly log: (m: string) => void;
}

export async function startEditor(o: SessionOptions): Promise<EditorSession> {
  const node = path.join(o.vscode.nodeBinDir, 'node');
  const userDir = path.join(o.tmp, 'user-data');
  const extensionsDir = path.join(o.tmp, 'extensions');
  fs.mkdirSync(path.join(userDir, 'User'), { recursive: true });
  fs.writeFileSync(path.join(userDir, 'User', 'settings.json'), JSON.stringify(o.userSettings, null, 2));
  const env = {
    ...Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^npm_/i.test(k))),
    PATH: `${o.vscode.nodeBinDir}${path.delimiter}${process.env.PATH ?? ''}`,
    XDG_CONFIG_HOME: path.join(o.tmp, 'xdg-config'),
    XDG_DATA_HOME: path.join(o.tmp, 'xdg-data'),
    ORT_DISABLE_TELEMETRY: '1',
  };
  const common = ['--user-data-dir', userDir, '--extensions-dir', extensionsDir];
  let extensionFolder = NOT_INSTALLED;
  if (o.vsix) {
    const inst = spawnSync(node, [o.vscode.codeServerEntry, ...common, '--install-extension', o.vsix], { env, encoding: 'utf8' });
    if (inst.status !== 0) throw new Error(`installing the VSIX failed:\n${inst.stdout}\n${inst.stderr}`);
    const folder = fs.readdirSync(extensionsDir).find((d) => d.startsWith(EXTENSION_ID));
    if (!folder) throw new Error(`${EXTENSION_ID} is not in ${extensionsDir} after --install-extension`);
    extensionFolder = folder;
  } else {
    fs.mkdirSync(extensionsDir, { recursive: true });
  }

  const port = await freePort();
  const serverLog: string[] = [];
  const server: ChildProcess = spawn(node, [o.vscode.codeServerEntry, '--auth', 'none', '--bind-addr', `127.0.0.1:${port}`, '--disable-telemetry',
    '--disable-update-check', '--disable-workspace-trust', ...common, o.workspace], { env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  for (const s of [server.stdout!, server.stderr!]) s.on('data', (d: Buffer) => serverLog.push(d.toString()));
  const serverPid = server.pid!;
  let browser: Browser | undefined;
  let closed = false;
  const close = async (): Promise<void> => {
    if (closed) return;
    closed = true;
    await browser?.close().catch(() => undefined);
    const pids = await killTree(serverPid);
    o.log(`ended code-server and its descendants: ${pids.length} processes`);
  };
  try {
    await waitForHttp(`http://127.0.0.1:${port}/healthz`, 60_000, server);
    browser = await chromium.launch({
      executablePath: o.vscode.chromium,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
    });
    const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    await page.goto(`http://127.0.0.1:${port}/?folder=${encodeURIComponent(o.workspace)}`);
    return { page, serverPid, userDir, extensionsDir, extensionFolder, serverLog, close };
  } catch (e) {
    await close();
    throw e;
  }
}

/** The logs VS Code writes under the user-data folder whose path ends with `suffix`, concatenated. */
function logsEndingWith(userDir: string, suffix: string): string {
  const logs = path.join(userDir, 'logs');
  if (!fs.existsSync(logs)) return '';
  return fs.readdirSync(logs, { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith(suffix))
    .map((f) => fs.readFileSync(path.join(logs, f), 'utf8'))
    .join('\n');
}

/** TypeGuide's output channel. */
export const typeGuideLog = (userDir: string): string => logsEndingWith(userDir, 'TypeGuide.log');

/** The extension host's own log (activation events). */
export const extensionHostLog = (userDir: string): string => logsEndingWith(userDir, 'remoteexthost.log');
