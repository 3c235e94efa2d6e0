import { dirname, join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

// Where leash itself lives: src/ when run through tsx, dist/ when built, and both when a bundler
// (Vitest) loads dist/ and maps its stacks back to src/. Frames in these folders are leash's own,
// except tests and fixtures, which are user code.
const builtRoot = dirname(dirname(fileURLToPath(import.meta.url)));
const packageRoot = dirname(builtRoot);
const leashRoots = [join(packageRoot, 'src') + sep, join(packageRoot, 'dist') + sep];

/** A parsed stack frame: the function name (may be empty) and location. */
export interface Frame {
  readonly fn: string;
  readonly file: string;
  readonly line: number;
  readonly column: number;
}

const frameWithName = /^\s*at (?:async )?(.*?) \((.*):(\d+):(\d+)\)$/;
const frameBare = /^\s*at (?:async )?(.*):(\d+):(\d+)$/;

/** parseStack turns a V8 stack string into frames, dropping the message line and native frames. */
export function parseStack(stack: string | undefined): Frame[] {
  if (!stack) return [];
  const frames: Frame[] = [];
  for (const line of stack.split('\n')) {
    let m = frameWithName.exec(line);
    if (m) {
      frames.push({ fn: m[1]!, file: toPath(m[2]!), line: Number(m[3]), column: Number(m[4]) });
      continue;
    }
    m = frameBare.exec(line);
    if (m) frames.push({ fn: '', file: toPath(m[1]!), line: Number(m[2]), column: Number(m[3]) });
  }
  return frames;
}

function toPath(file: string): string {
  if (file.startsWith('file://')) {
    try {
      return fileURLToPath(file);
    } catch {
      return file;
    }
  }
  return file;
}

/** isNodeInternal reports whether a frame is Node's own code (node:*, internal/*, native). */
export function isNodeInternal(f: Frame): boolean {
  return (
    f.file.startsWith('node:') ||
    f.file.startsWith('internal/') ||
    f.file === 'native' ||
    f.file === '<anonymous>'
  );
}

/** isLeashFrame reports whether a frame is inside leash's own sources (tests and fixtures excepted). */
export function isLeashFrame(f: Frame): boolean {
  if (!leashRoots.some((root) => f.file.startsWith(root))) return false;
  return !/\.test\.[cm]?[jt]s$/.test(f.file) && !f.file.includes(`${sep}fixtures${sep}`);
}

/** packageOf returns the npm package a frame belongs to ("@scope/name" or "name"), or undefined. */
export function packageOf(f: Frame): string | undefined {
  const i = f.file.lastIndexOf(`${sep}node_modules${sep}`);
  if (i < 0) return undefined;
  const rest = f.file.slice(i + 14).split(sep);
  if (rest[0]?.startsWith('@')) return `${rest[0]}/${rest[1] ?? ''}`;
  return rest[0];
}

/**
 * topFrame is the first frame that is neither Node internals nor leash: the code that asked for the
 * resource, which may be a library in node_modules.
 */
export function topFrame(frames: readonly Frame[]): Frame | undefined {
  return frames.find((f) => !isNodeInternal(f) && !isLeashFrame(f));
}

/**
 * userFrame is the first frame of the application itself (not Node, not leash, not node_modules),
 * falling back to topFrame when every frame is library code.
 */
export function userFrame(frames: readonly Frame[]): Frame | undefined {
  return (
    frames.find((f) => !isNodeInternal(f) && !isLeashFrame(f) && packageOf(f) === undefined) ??
    topFrame(frames)
  );
}

/** formatSite renders a frame as "path:line:column", relative to the working directory when inside it. */
export function formatSite(f: Frame | undefined): string {
  if (!f) return '<internal>';
  const rel = f.file.startsWith(sep) ? relative(process.cwd(), f.file) : f.file;
  const shown = rel.startsWith('..') ? f.file : rel;
  return `${shown}:${f.line}:${f.column}`;
}

/** formatFrame renders a frame like a V8 stack line, with a relative path. */
export function formatFrame(f: Frame): string {
  return f.fn ? `${f.fn} (${formatSite(f)})` : formatSite(f);
}
