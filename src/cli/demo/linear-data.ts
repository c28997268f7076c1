/**
 * The demo's problem: linear regression y = x·w* + b* + noise, with synthetic data from a seeded
 * generator (so every run trains on the same numbers), and its closed-form least-squares
 * solution (normal equations, float64) to judge the trained model against.
 */

export interface Dataset {
  /** Row-major samples x features. */
  readonly x: Float64Array;
  readonly y: Float64Array;
  readonly samples: number;
  readonly features: number;
}

export interface LinearModel {
  readonly w: Float64Array | Float32Array;
  readonly b: number;
}

/** mulberry32: a tiny seeded generator, plenty for demo data. */
export function seededUniform(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Standard normal samples by Box–Muller. */
export function seededNormal(seed: number): () => number {
  const u = seededUniform(seed);
  return () => Math.sqrt(-2 * Math.log(1 - u())) * Math.cos(2 * Math.PI * u());
}

export function makeDataset(samples: number, truth: LinearModel, noise: number, seed: number): Dataset {
  const features = truth.w.length;
  const n = seededNormal(seed);
  const x = new Float64Array(samples * features);
  const y = new Float64Array(samples);
  for (let i = 0; i < samples; i++) {
    let dot = truth.b;
    for (let j = 0; j < features; j++) {
      const v = n();
      x[i * features + j] = v;
      dot += v * truth.w[j]!;
    }
    y[i] = dot + noise * n();
  }
  return { x, y, samples, features };
}

/** Rows [from, to) of a dataset: one worker's shard. */
export function shard(d: Dataset, from: number, to: number): Dataset {
  return { x: d.x.subarray(from * d.features, to * d.features), y: d.y.subarray(from, to), samples: to - from, features: d.features };
}

export function mse(d: Dataset, m: LinearModel): number {
  let sum = 0;
  for (let i = 0; i < d.samples; i++) {
    let p = m.b;
    for (let j = 0; j < d.features; j++) p += d.x[i * d.features + j]! * m.w[j]!;
    sum += (p - d.y[i]!) ** 2;
  }
  return sum / d.samples;
}

/** Gradient of the mean squared error over `d` at `m`: (dL/dw, dL/db). */
export function gradient(d: Dataset, m: LinearModel): { readonly w: Float64Array; readonly b: number } {
  const gw = new Float64Array(d.features);
  let gb = 0;
  for (let i = 0; i < d.samples; i++) {
    let p = m.b;
    for (let j = 0; j < d.features; j++) p += d.x[i * d.features + j]! * m.w[j]!;
    const r = (2 * (p - d.y[i]!)) / d.samples;
    for (let j = 0; j < d.features; j++) gw[j]! += r * d.x[i * d.features + j]!;
    gb += r;
  }
  return { w: gw, b: gb };
}

/** Least squares with an intercept: solves (AᵀA) θ = Aᵀy for A = [x | 1] by Gaussian elimination. */
export function closedForm(d: Dataset): LinearModel {
  const k = d.features + 1;
  const ata = new Float64Array(k * k);
  const aty = new Float64Array(k);
  const row = new Float64Array(k);
  for (let i = 0; i < d.samples; i++) {
    for (let j = 0; j < d.features; j++) row[j] = d.x[i * d.features + j]!;
    row[d.features] = 1;
    for (let r = 0; r < k; r++) {
      aty[r]! += row[r]! * d.y[i]!;
      for (let c = 0; c < k; c++) ata[r * k + c]! += row[r]! * row[c]!;
    }
  }
  const theta = solve(ata, aty, k);
  return { w: theta.subarray(0, d.features), b: theta[d.features]! };
}

function solve(a: Float64Array, b: Float64Array, k: number): Float64Array {
  const m = Float64Array.from(a);
  const v = Float64Array.from(b);
  for (let col = 0; col < k; col++) {
    let pivot = col;
    for (let r = col + 1; r < k; r++) if (Math.abs(m[r * k + col]!) > Math.abs(m[pivot * k + col]!)) pivot = r;
    if (m[pivot * k + col] === 0) throw new Error('singular normal equations');
    for (let c = 0; c < k; c++) [m[col * k + c], m[pivot * k + c]] = [m[pivot * k + c]!, m[col * k + c]!];
    [v[col], v[pivot]] = [v[pivot]!, v[col]!];
    for (let r = 0; r < k; r++) {
      if (r === col) continue;
      const f = m[r * k + col]! / m[col * k + col]!;
      for (let c = col; c < k; c++) m[r * k + c]! -= f * m[col * k + c]!;
      v[r]! -= f * v[col]!;
    }
  }
  return v.map((x, i) => x / m[i * k + i]!);
}
