"""Benchmark: the fast batched MMD against the quickstarter's MMD at the platform's size.

Random log-scale data (seeded): 2,863 perturbations x 100 true and 100 predicted cells x 1,000 genes, float32.
The transcription of the quickstarter's MMD (`mmd_reference`) is timed on the first 50 perturbations and its
time for all 2,863 is extrapolated linearly (it is one independent computation per perturbation); the fast
`mmd_batch` is timed on all 2,863 (wall and CPU time: the machine may be shared). Prints both times, the ratio and the largest relative difference on the
common 50, and writes bench/results/metrics.json.
"""
import json, os, platform, sys, time
from pathlib import Path
import numpy as np
from obesity_nbdev.core import atomic_path
from obesity_nbdev.metrics import mmd_batch, mmd_reference

N_PERTS, N_CELLS, N_GENES, N_REF = 2863, 100, 1000, 50

def make_data(seed=0, n_perts=N_PERTS):
    "True and predicted cells, perturbations x cells x genes, log-expression-like (gamma means + noise, >= 0); the first `n_perts`"
    rng = np.random.default_rng(seed)
    base = rng.gamma(2.0, 0.5, size=N_GENES).astype(np.float32)
    T = np.empty((n_perts, N_CELLS, N_GENES), np.float32)
    P = np.empty_like(T)
    for i in range(n_perts):
        shift = rng.normal(0, 0.3, size=N_GENES).astype(np.float32)
        T[i] = np.clip(base + shift + rng.normal(0, 0.6, size=(N_CELLS, N_GENES)), 0, None)
        P[i] = np.clip(base + 0.5 * shift + rng.normal(0, 0.6, size=(N_CELLS, N_GENES)), 0, None)
    return T, P

def main(n_jobs=1, seed=0):
    T, P = make_data(seed)
    t = time.perf_counter()
    ref = np.array([mmd_reference(T[i].astype(np.float64), P[i].astype(np.float64)) for i in range(N_REF)])
    t_ref_sub = time.perf_counter() - t
    t_ref_all = t_ref_sub / N_REF * N_PERTS
    t, c = time.perf_counter(), time.process_time()
    fast = mmd_batch(T, P, n_jobs=n_jobs).per_perturbation.to_numpy()
    t_fast, cpu_fast = time.perf_counter() - t, time.process_time() - c
    rel = float(np.max(np.abs(fast[:N_REF] - ref) / np.abs(ref)))
    res = dict(shape=dict(perturbations=N_PERTS, cells=N_CELLS, genes=N_GENES), seed=seed, n_jobs=n_jobs,
               reference_s_measured=round(t_ref_sub, 2), reference_perturbations_measured=N_REF,
               reference_s_extrapolated_all=round(t_ref_all, 1), fast_s_all=round(t_fast, 2), fast_cpu_s_all=round(cpu_fast, 2),
               speedup=round(t_ref_all / t_fast, 1), max_rel_diff_on_common=rel,
               mean_mmd_fast=float(fast.mean()), machine=dict(cpus=os.cpu_count(), python=platform.python_version(),
               load_avg_1min_at_end=round(os.getloadavg()[0], 2)))
    print(f"reference (quickstarter transcription): {t_ref_sub:.1f} s for {N_REF} perturbations, "
          f"extrapolated to {N_PERTS}: {t_ref_all:.0f} s")
    print(f"fast mmd_batch: {t_fast:.1f} s wall ({cpu_fast:.1f} s CPU) for all {N_PERTS} perturbations (n_jobs={n_jobs})")
    print(f"speed-up {t_ref_all / t_fast:.0f}x; max relative difference on the common {N_REF}: {rel:.2e}")
    dest = Path(__file__).parent/'results'/'metrics.json'
    dest.parent.mkdir(exist_ok=True)
    with atomic_path(dest) as tmp: tmp.write_text(json.dumps(res, indent=1) + '\n')
    return res

if __name__ == '__main__': main(n_jobs=int(sys.argv[1]) if len(sys.argv) > 1 else 1)
