/** Temp directories and clusters for the cluster and client tests, cleaned up after each test. */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach } from 'vitest';
import { Cluster, type ClusterOptions } from '../../src/cluster/cluster.ts';

/** Elections in ~100-200 ms. */
export const FAST = Object.freeze({ tickMs: 10 });

const dirs: string[] = [];
const clusters: Cluster[] = [];
const suiteDirs: string[] = [];
const suiteClusters: Cluster[] = [];

export function tempDir(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tessera-test-'));
  dirs.push(dir);
  return dir;
}

/** A cluster closed (and its directory removed) after the current test. */
export async function startCluster(options: Partial<ClusterOptions> = {}): Promise<Cluster> {
  const cluster = await Cluster.start({ nodes: 3, dir: options.dir ?? tempDir(), ...FAST, ...options });
  clusters.push(cluster);
  return cluster;
}

/** A cluster shared by the tests of a file (start it in beforeAll), closed after them all. */
export async function startSuiteCluster(options: Partial<ClusterOptions> = {}): Promise<Cluster> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tessera-test-'));
  suiteDirs.push(dir);
  const cluster = await Cluster.start({ nodes: 3, dir, ...FAST, ...options });
  suiteClusters.push(cluster);
  return cluster;
}

/** Registers a cluster started by the test itself, so it is closed even if the test fails. */
export function track(cluster: Cluster): Cluster {
  clusters.push(cluster);
  return cluster;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

const enc = new TextEncoder();
const dec = new TextDecoder();
export const b = (s: string): Uint8Array => enc.encode(s);
export const s = (bytes: Uint8Array): string => dec.decode(bytes);

afterEach(async () => {
  await Promise.allSettled(clusters.splice(0).map((c) => c.close()));
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

afterAll(async () => {
  await Promise.allSettled(suiteClusters.splice(0).map((c) => c.close()));
  for (const d of suiteDirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

