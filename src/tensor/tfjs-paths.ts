/**
 * Shard paths in a TF.js manifest are URLs relative to the manifest. Read from disk, a path that is
 * absolute, climbs with '..' or names a URL scheme or drive would let a manifest point the importer at
 * any file on the machine, so only plain relative '/'-separated paths below the manifest are accepted.
 */
import path from 'node:path';

/** A URL scheme ('http:', 'file:') or a Windows drive ('C:'): both are absolute. */
const SCHEME_OR_DRIVE = /^[A-Za-z][A-Za-z0-9+.-]*:/;

/** Why `p` is not an acceptable shard path, or undefined when it is. */
export function shardPathProblem(p: string): string | undefined {
  if (p.length === 0) return 'is empty';
  if (p.includes('\0')) return 'contains a NUL character';
  // A backslash is a separator on Windows and a literal elsewhere: refusing it keeps paths portable.
  if (p.includes('\\')) return 'contains a backslash';
  if (p.startsWith('/')) return 'is absolute';
  if (SCHEME_OR_DRIVE.test(p)) return 'names a URL scheme or drive';
  for (const part of p.split('/')) {
    if (part.length === 0) return 'has an empty component';
    if (part === '..') return "has a '..' component";
  }
  return undefined;
}

/** The file a (validated) shard path names, relative to the directory holding the manifest. */
export function resolveShardPath(manifestFile: string, shardPath: string): string {
  return path.join(path.dirname(manifestFile), ...shardPath.split('/'));
}
