"""Writing prediction.h5ad: obesity_nbdev's streaming writer against the quickstarter's two paths and a raw h5py write.

Each case runs in its own subprocess; the parent measures its wall time and reads its peak RSS (ru_maxrss from
os.wait4), then times an os.sync() so that data a case left in the page cache is counted, and deletes the files.

  (a) ours        obesity_nbdev.expand.write_prediction (float32 noise, chunks of ~128 MB, fsync, rename)
  (b) qs-ram      quickstarter in-RAM path: np.zeros full float32 X, float64 np.random.normal per perturbation,
                  AnnData(...).write_h5ad
  (c) qs-h5tmp    quickstarter low-memory path: temporary h5py dataset chunks=(100, n_genes) filled the same
                  way, then AnnData with X pointing at it written with write_h5ad, temporary file removed
  (d) raw-h5py    the same number of bytes written with h5py from one preallocated float32 block, flush + fsync
  (e) ours-sampled obesity_nbdev.expand.write_prediction with cells_fn, the default model's path: each chunk's cells
                  come from obesity_nbdev.sampled.pool_cells on a seeded synthetic pool of 500 cells x genes (float32,
                  ~70% zeros, log1p of counts), moved to the predicted means, as SampledCells.sample_cells does
                  (pool and means column-indexed by the output genes, which leaves the pool Fortran-ordered as in
                  sample_cells, then pool_cells). The model's ridge predict
                  (a small matrix product per chunk) is replaced by the same cycled table of means as in (a).

Usage: python bench/infer_bench.py [--perts 2863] [--genes 10238] [--qs-perts N] [--skip-quickstarter] [--cases a,d,e]
Results: bench/results/infer.json (or --json) and a table on stdout. 'inner s' is the time inside the case (after imports),
'wall s' the subprocess's wall time (with interpreter start and imports), 'total s' = wall + the sync after it,
'GB/s' = bytes of X / total s, 'x raw' = total s / total s of (d) when (d) was run.
"""
from __future__ import annotations
import argparse, json, os, platform, shutil, subprocess, sys, tempfile, time
from pathlib import Path

HERE = Path(__file__).resolve().parent
LABELS = dict(a='ours: write_prediction', b='quickstarter in-RAM', c='quickstarter temporary HDF5', d='raw h5py write + fsync',
              e='ours, default model (sampled cells)')


def _names(n): return [f'P{i:05d}' for i in range(n)]


def _inputs(perts, genes, seed=0):
    "Small table of means (64 rows, cycled) and a gene-wise std, as float32"
    import numpy as np
    rng = np.random.default_rng(seed)
    small = (rng.random((64, genes), dtype=np.float32) * 4).astype(np.float32)
    std = (0.1 + rng.random(genes, dtype=np.float32)).astype(np.float32)
    return small, std


def _pool(n, genes, seed=0):
    "A sparse-looking pool of cells, n x genes float32: ~70% zeros, log1p of small counts elsewhere"
    import numpy as np
    rng = np.random.default_rng(seed)
    counts = rng.poisson(rng.gamma(1.0, 3.0, size=genes).astype(np.float32), size=(n, genes)) + 1
    return np.where(rng.random((n, genes)) < 0.3, np.log1p(counts), 0).astype(np.float32)


def run_case(case, out, perts, genes, cells):
    "Run one case in this process; return seconds spent inside"
    import numpy as np, pandas as pd, h5py, anndata as ad
    names, gnames = _names(perts), [f'G{j:05d}' for j in range(genes)]
    small, std = _inputs(perts, genes)
    t0 = time.perf_counter()
    if case == 'a':
        from obesity_nbdev.expand import write_prediction
        def predict_fn(ns): return small[[int(n[1:]) % 64 for n in ns]]
        write_prediction(out, predict_fn, names, gnames, std=std, n_cells=cells, seed=0, quiet=True)
    elif case == 'e':
        # the default model's own code path: a SampledCells fitted on small synthetic means (targets are
        # measured genes) with a pool drawn from sparse-looking cells; its sample_cells feeds the writer
        from obesity_nbdev.expand import write_prediction
        from obesity_nbdev.sampled import SampledCells
        k = 24
        means = ad.AnnData(X=np.vstack([small[:k], small[:k].mean(0, keepdims=True)]).astype(np.float64),
                           obs=pd.DataFrame(index=gnames[:k] + ['NC']), var=pd.DataFrame(index=gnames))
        pool = _pool(1000, genes)
        cells_ad = ad.AnnData(X=pool, obs=pd.DataFrame({'gene': [gnames[i % k] for i in range(len(pool))]}, index=[f'c{i}' for i in range(len(pool))]),
                              var=pd.DataFrame(index=gnames))
        model = SampledCells(n_pool=500).fit(means, cells=cells_ad, quiet=True)
        targets = [gnames[i % genes] for i in range(perts)]           # measured genes: the regression path, not the fallback
        def cells_fn(ns, out): return model.sample_cells(ns, n_cells=cells, seed=0, genes=gnames, out=out)
        t0 = time.perf_counter()                   # fitting is training, not writing
        write_prediction(out, None, targets, gnames, std=std, n_cells=cells, seed=0, quiet=True, cells_fn=cells_fn)
    elif case in 'bc':
        # the quickstarter's objects: a DataFrame of predicted means (perturbations x genes, float64) and train_std
        Y_hat = pd.DataFrame(small[np.arange(perts) % 64].astype(np.float64), index=names, columns=gnames)
        train_std = std.astype(np.float64)
        n = perts * cells
        obs = {'gene': np.repeat(names, cells)}
        var = pd.DataFrame(index=gnames)
        def fill_X(X):
            np.random.seed(42)
            for i, pert in enumerate(names):
                pred = Y_hat.loc[pert][gnames].values.astype(np.float32)
                pred = pred + np.random.normal(loc=0.0, scale=train_std, size=(cells, genes))
                X[i*cells:(i+1)*cells] = pred
        if case == 'b':
            X = np.zeros((n, genes), dtype=np.float32)
            fill_X(X)
            pred = ad.AnnData(X=X, obs=obs, var=var); del X
            pred.write_h5ad(out)
        else:
            tmp = Path(out).parent / 'prediction_matrix.h5'
            with h5py.File(tmp, 'w') as f:
                dset = f.create_dataset('X', shape=(n, genes), dtype='float32', chunks=(cells, genes))
                fill_X(dset)
            pred = ad.AnnData(X=np.zeros((n, genes), dtype=np.float32), obs=obs, var=var)
            with h5py.File(tmp, 'r') as f:
                pred.X = f['X']
                pred.write_h5ad(out)
            os.remove(tmp)
    elif case == 'd':
        rows = max(1, (128 * 2**20) // (cells * genes * 4)) * cells
        block = np.random.default_rng(0).standard_normal((rows, genes), dtype=np.float32)
        n = perts * cells
        with h5py.File(out, 'w') as f:
            X = f.create_dataset('X', shape=(n, genes), dtype=np.float32)
            for s in range(0, n, rows):
                e = min(s + rows, n)
                X.write_direct(block[:e - s], dest_sel=np.s_[s:e])
            f.flush()
        fd = os.open(out, os.O_RDONLY); os.fsync(fd); os.close(fd)
    else:
        raise SystemExit(f'unknown case {case!r}')
    return time.perf_counter() - t0


def measure(case, perts, genes, cells, workdir):
    "Run `case` in a subprocess: wall seconds, inner seconds, seconds of the sync after it, peak RSS, bytes written"
    d = Path(tempfile.mkdtemp(prefix=f'bench_{case}_', dir=workdir))
    out = d / 'prediction.h5ad'
    cmd = [sys.executable, str(Path(__file__).resolve()), '--run', case, '--out', str(out),
           '--perts', str(perts), '--genes', str(genes), '--cells', str(cells)]
    t0 = time.perf_counter()
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
    _, status, ru = os.wait4(p.pid, 0)
    wall = time.perf_counter() - t0
    stdout = p.stdout.read(); p.stdout.close(); p.returncode = os.waitstatus_to_exitcode(status)
    ts = time.perf_counter(); os.sync(); sync = time.perf_counter() - ts
    size = out.stat().st_size if out.exists() else 0
    shutil.rmtree(d, ignore_errors=True)
    if p.returncode != 0: raise SystemExit(f'case {case} failed with exit code {p.returncode}')
    inner = json.loads(stdout.strip().splitlines()[-1])['inner_s']
    nbytes = perts * cells * genes * 4
    return dict(case=case, label=LABELS[case], perts=perts, genes=genes, cells=cells, x_bytes=nbytes, file_bytes=size,
                wall_s=round(wall, 2), inner_s=round(inner, 2), sync_after_s=round(sync, 2),
                total_s=round(wall + sync, 2), peak_rss_mb=round(ru.ru_maxrss / 1024, 1),
                gb_per_s=round(nbytes / 1e9 / (wall + sync), 3))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--perts', type=int, default=2863, help='perturbations (platform: 2863)')
    ap.add_argument('--genes', type=int, default=10238, help='genes (platform: 10238)')
    ap.add_argument('--cells', type=int, default=100, help='cells per perturbation')
    ap.add_argument('--qs-perts', type=int, default=None, help='perturbations for the quickstarter cases (default: --perts)')
    ap.add_argument('--skip-quickstarter', action='store_true', help='run only (a) and (d)')
    ap.add_argument('--cases', default='a,b,c,d,e', help='comma-separated subset of a,b,c,d,e')
    ap.add_argument('--workdir', default=None, help='where the files are written (default: the system temp folder)')
    ap.add_argument('--json', default=str(HERE / 'results' / 'infer.json'))
    ap.add_argument('--run', help=argparse.SUPPRESS)
    ap.add_argument('--out', help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    if a.run:
        print(json.dumps(dict(inner_s=run_case(a.run, a.out, a.perts, a.genes, a.cells)))); return
    cases = [c.strip() for c in a.cases.split(',') if c.strip()]
    bad = [c for c in cases if c not in LABELS]
    if bad: ap.error(f"unknown case(s) {', '.join(bad)}: choose from {','.join(LABELS)}")
    cases = [c for c in cases if not (a.skip_quickstarter and c in 'bc')]
    rows = []
    for c in cases:
        n = a.qs_perts if (c in 'bc' and a.qs_perts) else a.perts
        print(f'running ({c}) {LABELS[c]}: {n} perturbations x {a.cells} cells x {a.genes} genes ...', file=sys.stderr, flush=True)
        rows.append(measure(c, n, a.genes, a.cells, a.workdir))
        print(f'  {rows[-1]["total_s"]} s, peak RSS {rows[-1]["peak_rss_mb"]} MB', file=sys.stderr, flush=True)
    raw = next((r['total_s'] for r in rows if r['case'] == 'd'), None)
    for r in rows: r['x_raw'] = round(r['total_s'] / raw, 2) if raw else None
    import psutil
    res = dict(machine=dict(python=platform.python_version(), cpus=os.cpu_count(),
                            mem_total_gb=round(psutil.virtual_memory().total / 1e9, 1),
                            loadavg_before_end=os.getloadavg()), cases=cases, rows=rows)
    Path(a.json).parent.mkdir(parents=True, exist_ok=True)
    Path(a.json).write_text(json.dumps(res, indent=1))
    hdr = f"{'case':<42}{'perts':>6}{'GB':>7}{'inner s':>9}{'wall s':>9}{'sync s':>8}{'total s':>9}{'GB/s':>7}{'peak RSS MB':>13}{'x raw':>7}"
    print(hdr); print('-' * len(hdr))
    for r in rows:
        print(f"({r['case']}) {r['label']:<38}{r['perts']:>6}{r['x_bytes']/1e9:>7.2f}{r['inner_s']:>9.1f}{r['wall_s']:>9.1f}"
              f"{r['sync_after_s']:>8.1f}{r['total_s']:>9.1f}{r['gb_per_s']:>7.2f}{r['peak_rss_mb']:>13.0f}"
              f"{'' if r['x_raw'] is None else format(r['x_raw'], '.2f'):>7}")


if __name__ == '__main__':
    main()
