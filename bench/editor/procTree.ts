// Process tree and memory from /proc (Linux): code-server's descendants, its extension host, and the
// language servers TypeGuide starts under it.
import fs from 'node:fs';

export interface ProcInfo {
  readonly pid: number;
  readonly ppid: number;
  /** argv joined by spaces (shortened for reports by the caller). */
  readonly cmd: string;
  /** Resident set size, MiB (VmRSS). */
  readonly rssMb: number;
}

function readProc(pid: number): ProcInfo | undefined {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name sits in parentheses and may contain spaces or ')': fields resume after the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ppid = Number(fields[1]);
    const cmd = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean).join(' ');
    const rss = /^VmRSS:\s+(\d+) kB/m.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return { pid, ppid, cmd, rssMb: rss ? Number(rss[1]) / 1024 : 0 };
  } catch {
    return undefined; // exited while being read, or a kernel thread without status
  }
}

/** Every live process. */
export function allProcesses(): ProcInfo[] {
  return fs.readdirSync('/proc').filter((d) => /^\d+$/.test(d)).map((d) => readProc(Number(d))).filter((p): p is ProcInfo => p !== undefined);
}

/** `root` and all its descendants (breadth first), from one snapshot of /proc. */
export function processTree(root: number, procs: readonly ProcInfo[] = allProcesses()): ProcInfo[] {
  const children = new Map<number, ProcInfo[]>();
  for (const p of procs) children.set(p.ppid, [...(children.get(p.ppid) ?? []), p]);
  const self = procs.find((p) => p.pid === root);
  const out: ProcInfo[] = self ? [self] : [];
  for (let i = 0; i < out.length; i++) out.push(...(children.get(out[i].pid) ?? []));
  return out;
}

export interface MemorySample {
  /** Extension host process (TypeGuide's own code in it; the engine and its language servers are its descendants, in typeGuideServers). */
  extensionHostMb: number;
  extensionHostPid: number | undefined;
  /** TypeGuide's processes: the engine and its language servers (descendants of the extension host started from TypeGuide's folder). */
  typeGuideServersMb: number;
  typeGuideServers: { pid: number; rssMb: number; cmd: string }[];
  /** The extension host's other descendants (VS Code's own TypeScript server and the like). */
  otherExtensionHostChildrenMb: number;
  otherExtensionHostChildren: { pid: number; rssMb: number; cmd: string }[];
  /** code-server with all its descendants. */
  codeServerTotalMb: number;
}

const round = (mb: number): number => Math.round(mb * 10) / 10;
const short = (cmd: string): string => (cmd.length > 160 ? `${cmd.slice(0, 157)}...` : cmd);

/**
 * Memory of the processes under code-server. The extension host is the descendant started with
 * `--type=extensionHost`; TypeGuide's servers are its descendants whose command line points into the
 * installed extension's folder (`extensionDirMarker`).
 */
export function sampleMemory(codeServerPid: number, extensionDirMarker: string): MemorySample {
  const procs = allProcesses();
  const tree = processTree(codeServerPid, procs);
  const hosts = tree.filter((p) => p.cmd.includes('--type=extensionHost'));
  // One window, one host; if an old one lingers, the newest (highest pid) is the live one.
  const host = hosts.sort((a, b) => b.pid - a.pid)[0];
  const under = host ? processTree(host.pid, procs).slice(1) : [];
  const ours = under.filter((p) => p.cmd.includes(extensionDirMarker));
  const others = under.filter((p) => !p.cmd.includes(extensionDirMarker));
  const list = (ps: ProcInfo[]): { pid: number; rssMb: number; cmd: string }[] => ps.map((p) => ({ pid: p.pid, rssMb: round(p.rssMb), cmd: short(p.cmd) }));
  const sum = (ps: ProcInfo[]): number => round(ps.reduce((s, p) => s + p.rssMb, 0));
  return {
    extensionHostMb: round(host?.rssMb ?? 0),
    extensionHostPid: host?.pid,
    typeGuideServersMb: sum(ours),
    typeGuideServers: list(ours),
    otherExtensionHostChildrenMb: sum(others),
    otherExtensionHostChildren: list(others),
    codeServerTotalMb: sum(tree),
  };
}

/**
 * Ends `root` and every descendant by pid: SIGTERM, then SIGKILL for whatever is left after
 * `graceMs`. The tree is read before signalling, so children re-parented when their parent exits are
 * still reached.
 */
export async function killTree(root: number, graceMs = 3000): Promise<number[]> {
  const pids = processTree(root).map((p) => p.pid);
  for (const pid of pids) signal(pid, 'SIGTERM');
  const deadline = Date.now() + graceMs;
  while (Date.now() < deadline && pids.some(alive)) await new Promise((r) => setTimeout(r, 100));
  for (const pid of pids.filter(alive)) signal(pid, 'SIGKILL');
  return pids;
}

function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    // already gone
  }
}

function alive(pid: number): boolean {
  try {
    const state = /^State:\s+(\w)/m.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
    return state !== 'Z'; // a zombie is dead, only not yet reaped
  } catch {
    return false;
  }
}
