"""All benchmarks in one run, side by side: each step against the quickstarter's way and the machine's limit.

Builds the synthetic `small` screen once into --work (reused when already there; `--full` adds the `full`
screen), then runs every case in its own subprocess and reads its wall time, CPU time (user + system) and
peak RSS (ru_maxrss from os.wait4). Cases that write files are followed by a timed os.sync(), counted in
their wall time. Steps:

  aggregation  per-perturbation means of the training file (first 300 cells of each, as both pipelines do):
               the quickstarter's slicing of a backed AnnData, ours (obesity_nbdev.aggregate), and one raw
               sequential h5py read of X's datasets (the disk / page-cache limit; the file is read once
               beforehand, untimed, so that every case sees a warm page cache)
  train        `obesity-nbdev train` of the default model and of the baseline (on `full` too with --full)
  infer        `obesity-nbdev infer --all` (286,300 x 10,238 float32) of both trained models; the
               quickstarter's in-RAM and temporary-HDF5 writers (bench/infer_bench.py cases b, c, on
               --qs-perts perturbations, times scaled linearly to all of them and marked so); a raw h5py
               write of the same bytes with fsync (case d, the limit)
  scoring      MMD of 2,863 perturbations x 100 cells x 1,000 genes (bench/metrics_bench.py's data): the
               quickstarter's MMD on its first --qs-mmd perturbations, extrapolated linearly; ours
               (metrics.mmd_batch) on all
  cv           `obesity-nbdev cv` of the default model and of the baseline, 5 folds, on `small`

The cases that the targets compare (aggregation and the raw read, train, infer and the raw write) run --repeats
times (default 3), alternating with their limit; each row is the run of median wall time. Writes BENCHMARKS.md (machine, date, load average before and after, the share of CPU time stolen by the hypervisor, the table, the ratios and targets)
and bench/results/bench.json. Usage:

  python bench/run.py [--work bench/work] [--full] [--steps aggregation,train,infer,scoring,cv]
  python bench/run.py --scaling [--work bench/work]

--scaling measures instead how time and peak RSS grow with the size of the input, each case in its own
subprocess as above: aggregation (with the raw read beside it) and `train` of the default model on three
training files, a 10,000-cell subset of `small` (the first cells of every perturbation, in proportion; built
once into --work), `small` and `full`; and `infer` of the model trained on `small` for 500, 2,863 and 5,000
perturbations (the first 500 of predict_perturbations.txt, all of it, and all of it followed by measured
genes that are not in it). Size is the stored nonzeros of X (aggregation, train) or the perturbations
(infer); 'time / size' is wall time per unit of size, relative to the smallest size (1.0 at every size:
linear growth; above 1: faster than linear). It writes bench/results/scaling.json, bench/results/scaling.png
and the scaling section of BENCHMARKS.md (the one-run table above it is kept, rewritten from bench.json).
"""
from __future__ import annotations
import argparse, datetime, json, os, platform, shutil, subprocess, sys, tempfile, time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
STEPS = ('aggregation', 'train', 'infer', 'scoring', 'cv')
TRAIN = 'obesity_challenge_1.h5ad'
GB = 1e9


# ---------------------------------------------------------------- measuring a subprocess
def measure_cmd(cmd, *, sync=False, env=None, cwd=None):
    "Run `cmd`; wall s (plus a timed os.sync() when `sync`), CPU s of the child, its peak RSS in MB, and its stdout"
    t0 = time.perf_counter()
    p = subprocess.Popen([str(c) for c in cmd], stdout=subprocess.PIPE, text=True, env=env, cwd=cwd)
    out = p.stdout.read()                     # read before waiting: a full pipe must not block the child
    _, status, ru = os.wait4(p.pid, 0)
    wall = time.perf_counter() - t0
    p.stdout.close(); p.returncode = os.waitstatus_to_exitcode(status)
    sync_s = 0.0
    if sync: ts = time.perf_counter(); os.sync(); sync_s = time.perf_counter() - ts
    if p.returncode != 0: raise SystemExit(f"failed with exit code {p.returncode}: {' '.join(map(str, cmd))}")
    return dict(wall_s=round(wall + sync_s, 2), sync_s=round(sync_s, 2), cpu_s=round(ru.ru_utime + ru.ru_stime, 2),
                peak_rss_mb=round(ru.ru_maxrss / 1024), stdout=out)


def median_run(runs):
    "The run of median wall time among `runs` (a list of measure_cmd results), with every run's wall time as 'walls'"
    r = sorted(runs, key=lambda m: m['wall_s'])[len(runs) // 2]
    return dict(r, walls=[round(m['wall_s'], 1) for m in runs]) if len(runs) > 1 else r


def _last_json(stdout): return json.loads(stdout.strip().splitlines()[-1])


def cli(*args): return [Path(sys.executable).parent/'obesity-nbdev', *args]


def child(name, *args): return [sys.executable, Path(__file__).resolve(), '--child', name, *args]


# ---------------------------------------------------------------- child cases (run as `run.py --child NAME ...`)
def qs_perturbation_means(adata_train, gene_col='gene', n_cells_per_perturbation=None):
    "The quickstarter's compute_perturbation_means (genes x perturbations DataFrame), transcribed without its progress bar"
    import numpy as np, pandas as pd
    perturbations = adata_train.obs[gene_col].astype('category')
    perturbation_means = {}
    for pert in perturbations.cat.categories:
        pert_mask = perturbations == pert
        if pert_mask.sum() == 0: continue
        if n_cells_per_perturbation is not None:
            idx = adata_train.obs.loc[pert_mask].head(n_cells_per_perturbation).index
            X_pert = adata_train[idx].X
        else:
            X_pert = adata_train[pert_mask].X
        perturbation_means[pert] = np.asarray(X_pert.mean(axis=0)).ravel()
    return pd.DataFrame(perturbation_means, index=adata_train.var_names)


def raw_read(path, block_bytes=64 * 2**20):
    "Read every dataset under X of an h5ad file once, sequentially, in blocks into one buffer; bytes read"
    import numpy as np, h5py
    total = 0
    with h5py.File(path, 'r') as f:
        e = f['X']
        dsets = [e[k] for k in ('data', 'indices', 'indptr')] if isinstance(e, h5py.Group) else [e]
        for d in dsets:
            if d.ndim == 1:
                step = max(1, block_bytes // d.dtype.itemsize)
                buf = np.empty(step, d.dtype)
                for s in range(0, d.shape[0], step):
                    n = min(step, d.shape[0] - s)
                    d.read_direct(buf, np.s_[s:s + n], np.s_[:n])
            else:
                step = max(1, block_bytes // (d.dtype.itemsize * d.shape[1]))
                buf = np.empty((step, d.shape[1]), d.dtype)
                for s in range(0, d.shape[0], step):
                    n = min(step, d.shape[0] - s)
                    d.read_direct(buf, np.s_[s:s + n], np.s_[:n])
            total += d.size * d.dtype.itemsize
    return total


def write_subset(src, dst, n_cells):
    "Write the first cells of every perturbation of the training file `src`, about `n_cells` in all, in proportion, to `dst`"
    import numpy as np, pandas as pd, anndata as ad
    a = ad.read_h5ad(src, backed='r')
    g = a.obs['gene'].astype(str).to_numpy()
    rank = pd.Series(g).groupby(g).cumcount().to_numpy()
    size = pd.Series(g).map(pd.Series(g).value_counts()).to_numpy()
    rows = np.flatnonzero(rank < np.maximum(1, np.round(size * n_cells / len(g))))
    sub = a[rows].to_memory()
    a.file.close()
    tmp = Path(str(dst) + '.tmp'); sub.write_h5ad(tmp); tmp.replace(dst)
    return list(sub.shape)


def run_child(name, args):
    "One case, in this process; prints a JSON line with the seconds spent inside (after imports) and any figures"
    import numpy as np
    t_start = time.perf_counter()
    if name == 'agg-qs': import anndata as ad                     # each case's imports are timed apart from its work
    elif name == 'agg-ours': from obesity_nbdev.aggregate import aggregate
    elif name == 'raw-read': import h5py
    elif name == 'coexp-svd':
        from obesity_nbdev.sampled import sample_pool
        from obesity_nbdev.composed import coexpression_basis
        from obesity_nbdev.core import CONTROL
        import sklearn.utils.extmath                  # imported by coexpression_basis: counted with the imports
    t0 = time.perf_counter(); c0 = time.process_time(); res = dict(imports_s=t0 - t_start)
    if name == 'agg-qs':
        a = ad.read_h5ad(args[0], backed='r')
        Y = qs_perturbation_means(a, n_cells_per_perturbation=int(args[1]))
        res['shape'] = list(Y.shape)
    elif name == 'agg-ours':
        m = aggregate(args[0], max_cells=int(args[1]), quiet=True)
        res['shape'] = list(m.shape)
    elif name == 'raw-read':
        res['bytes'] = raw_read(args[0])
    elif name == 'coexp-svd':                  # the default model's co-expression basis alone, from the control cells train reads
        cells = sample_pool(args[0], [CONTROL], n=int(args[1]), seed=0)
        t1 = time.perf_counter(); res['read_s'] = t1 - t0
        L, _ = coexpression_basis(cells, k=int(args[2]), seed=0)
        res['svd_s'], res['shape'] = time.perf_counter() - t1, list(cells.shape)
    elif name == 'subset':
        res['shape'] = write_subset(args[0], args[1], int(args[2]))
    elif name in ('mmd-qs', 'mmd-ours'):
        import metrics_bench as mb
        from obesity_nbdev.metrics import mmd_batch, mmd_reference
        n = int(args[0])
        T, P = mb.make_data(n_perts=n)           # the same seeded data: the first n perturbations of the full set
        t0 = time.perf_counter(); c0 = time.process_time()
        if name == 'mmd-qs': v = np.array([mmd_reference(T[i].astype(np.float64), P[i].astype(np.float64)) for i in range(n)])
        else: v = mmd_batch(T, P).per_perturbation.to_numpy()
        res['mmd_first'] = [float(x) for x in v[:int(args[1])]]
    else: raise SystemExit(f"unknown child case {name!r}")
    res.update(inner_s=time.perf_counter() - t0, inner_cpu_s=time.process_time() - c0)
    print(json.dumps(res))


# ---------------------------------------------------------------- the screens
def screen(work, scale, quiet):
    "The synthetic screen `scale` in `work/scale`, built unless complete there; (folder, seconds to build or None)"
    d = Path(work)/scale
    need = [TRAIN, 'obesity_challenge_1_local_gtruth.h5ad', 'predict_perturbations.txt', 'genes_to_predict.txt', 'program_proportion.csv']
    if all((d/n).exists() for n in need): return d, None
    print(f"building the synthetic {scale} screen in {d} ...", file=sys.stderr, flush=True)
    if d.exists(): shutil.rmtree(d)
    # built in a subprocess: a child's ru_maxrss starts from its parent's RSS at fork, so the runner must stay small
    r = measure_cmd(cli('synth', '--out', d, '--scale', scale, '--seed', 0, *(['--quiet'] if quiet else [])))
    return d, r['wall_s']


def _shape(path):
    import h5py
    with h5py.File(path, 'r') as f:
        e = f['X']; return [int(s) for s in (e.attrs['shape'] if 'shape' in e.attrs else e.shape)]


def _inner(j): return dict(inner_s=round(j['inner_s'], 2), imports_s=round(j['imports_s'], 2))


def _coexp_part(model):
    "The co-expression settings (k, n_ctrl: cells it uses) of `model`'s effect or of a part of it; None if it has none"
    from obesity_nbdev.models import get_model
    from obesity_nbdev.composed import CoexpMix
    m = get_model(model)()
    eff = getattr(m, 'effect', None)
    part = next((e for e in [eff, *getattr(eff, 'models', [])] if isinstance(e, CoexpMix)), None)
    return None if part is None else dict(k=part.k, n_ctrl=min(part.n_ctrl, m.spec['n_ctrl_cells']))


def _n_lines(path): return sum(1 for l in Path(path).read_text().splitlines() if l.strip())


# ---------------------------------------------------------------- the steps
class Bench:
    def __init__(self, a):
        self.a, self.rows, self.scratch = a, [], Path(tempfile.mkdtemp(prefix='scratch_', dir=a.work))

    def row(self, step, case, label, m, **kw):
        r = dict(step=step, case=case, label=label, **{k: v for k, v in m.items() if k != 'stdout'}, **kw)
        self.rows.append(r)
        print(f"  {step:<12}{case:<22}{r['wall_s']:>9.1f} s wall {r['cpu_s']:>9.1f} s CPU {r['peak_rss_mb']:>7,} MB"
              + (f"  ({r['note']})" if r.get('note') else ''), file=sys.stderr, flush=True)
        return r

    def say(self, s): print(s, file=sys.stderr, flush=True)

    def aggregation(self, data, scale):
        train = data/TRAIN
        self.say(f"aggregation on {scale} ({train.stat().st_size / GB:.2f} GB) ...")
        measure_cmd(child('raw-read', train))                       # warm the page cache, untimed
        raw, ours = [], []
        for _ in range(self.a.repeats):                             # alternating, so that a slow spell of the machine hits both
            raw.append(measure_cmd(child('raw-read', train))); ours.append(measure_cmd(child('agg-ours', train, 300)))
        m = median_run(raw); j = _last_json(m['stdout'])
        self.row('aggregation', f'raw-read/{scale}', 'one sequential h5py read of X (the limit)', m,
                 bytes=j['bytes'], **_inner(j), scale=scale)
        m = measure_cmd(child('agg-qs', train, 300))
        self.row('aggregation', f'quickstarter/{scale}', 'quickstarter: per-perturbation slicing of a backed AnnData', m,
                 **_inner(_last_json(m['stdout'])), scale=scale)
        m = median_run(ours)
        self.row('aggregation', f'ours/{scale}', 'ours: obesity_nbdev.aggregate, one streaming pass over the rows that enter the means', m,
                 **_inner(_last_json(m['stdout'])), scale=scale)

    def train(self, data, scale):
        self.say(f"train on {scale} ...")
        runs = {model: [] for model in (self.a.model, 'baseline')}
        for _ in range(self.a.repeats):
            for model in runs:
                runs[model].append(measure_cmd(cli('train', '--data', data, '--model-dir', self.scratch/f'model_{model}_{scale}', '--model', model, '--quiet')))
        for model, r in runs.items(): self.row('train', f'{model}/{scale}', f'obesity-nbdev train --model {model}', median_run(r), scale=scale)
        coexp = _coexp_part(self.a.model)
        if coexp:                                   # the part of the default's fit that is arithmetic, not reading
            m = measure_cmd(child('coexp-svd', data/TRAIN, coexp['n_ctrl'], coexp['k']))
            j = _last_json(m['stdout'])
            self.row('train', f'svd/{scale}', f"within it: the co-expression basis alone, a randomised SVD of {j['shape'][0]:,} control cells x {j['shape'][1]:,} genes", m,
                     **_inner(j), read_s=round(j['read_s'], 2), svd_s=round(j['svd_s'], 2), scale=scale,
                     note=f"{j['svd_s']:.1f} s of SVD after {j['read_s']:.1f} s reading the cells")

    def infer(self, data):
        import infer_bench
        perts, genes = _n_lines(data/'predict_perturbations.txt'), _n_lines(data/'genes_to_predict.txt')
        self.say(f"infer --all: {perts:,} x 100 cells x {genes:,} genes ({perts * 100 * genes * 4 / GB:.1f} GB) ...")
        def qs(case, n):
            out = self.scratch/f'infer_{case}'/'prediction.h5ad'; out.parent.mkdir()
            m = measure_cmd([sys.executable, HERE/'infer_bench.py', '--run', case, '--out', out, '--perts', n, '--genes', genes, '--cells', 100], sync=True)
            shutil.rmtree(out.parent)
            return m
        models, runs, size = (self.a.model, 'baseline'), {}, None
        for model in models:
            md = self.scratch/f'model_{model}_small'
            if not md.exists(): measure_cmd(cli('train', '--data', data, '--model-dir', md, '--model', model, '--quiet'))
        for _ in range(self.a.repeats):                 # ours and the raw write alternate
            for model in models:
                out = self.scratch/'pred'
                runs.setdefault(model, []).append(measure_cmd(cli('infer', '--data', data, '--model-dir', self.scratch/f'model_{model}_small', '--out', out, '--all', '--quiet'), sync=True))
                size = (out/'prediction.h5ad').stat().st_size
                shutil.rmtree(out)
            runs.setdefault('d', []).append(qs('d', perts))
        for model in models: self.row('infer', f'ours/{model}', f'obesity-nbdev infer --all, {model} model', median_run(runs[model]), file_bytes=size)
        for case, n in (('d', perts), ('b', self.a.qs_perts), ('c', self.a.qs_perts)):
            m = median_run(runs['d']) if case == 'd' else qs(case, n)
            name = {'d': 'raw-write', 'b': 'quickstarter-ram', 'c': 'quickstarter-h5tmp'}[case]
            kw = dict(label=infer_bench.LABELS[case] + ('' if case == 'd' else ' (bench/infer_bench.py)'))
            if n != perts:
                f = perts / n
                kw['note'] = f"measured on {n:,} perturbations, wall and CPU x {f:.2f}: extrapolated"
                m = dict(m, wall_s=round(m['wall_s'] * f, 1), cpu_s=round(m['cpu_s'] * f, 1), measured_wall_s=m['wall_s'],
                         measured_cpu_s=m['cpu_s'], measured_perts=n)
                if case == 'b': kw['note'] += '; peak RSS grows with the perturbations (X is held in RAM): ' \
                                             f"about {perts * 100 * genes * 4 / 2**20:,.0f} MB for all"
            self.row('infer', name, m=m, **kw)

    def scoring(self):
        n, k = 2863, self.a.qs_mmd
        self.say(f"scoring: MMD of {n:,} perturbations x 100 cells x 1,000 genes ...")
        m = measure_cmd(child('mmd-qs', k, k)); j = _last_json(m['stdout'])
        f = n / k
        self.row('scoring', 'quickstarter', 'quickstarter broadcast MMD (metrics.mmd_reference)',
                 dict(m, wall_s=round(j['inner_s'] * f, 1), cpu_s=round(j['inner_cpu_s'] * f, 1)),
                 note=f"timed inside on the first {k} perturbations, x {f:.1f}: extrapolated", measured_inner_s=round(j['inner_s'], 2))
        ref = j['mmd_first']
        m = measure_cmd(child('mmd-ours', n, k)); j2 = _last_json(m['stdout'])
        rel = max(abs(a - b) / abs(b) for a, b in zip(j2['mmd_first'], ref))
        self.row('scoring', 'ours', 'ours: metrics.mmd_batch',
                 dict(m, wall_s=round(j2['inner_s'], 2), cpu_s=round(j2['inner_cpu_s'], 2)),
                 note=f"timed inside; equal to the quickstarter's on the common {k} to {rel:.1e} relative", max_rel_diff=rel)

    def cv(self, data):
        self.say("cv, 5 folds, on small ...")
        for model in (self.a.model, 'baseline'):
            m = measure_cmd(cli('cv', '--data', data, '--models', model, '--folds', 5, '--no-references', '--quiet'))
            self.row('cv', model, f'obesity-nbdev cv --models {model} --folds 5 --no-references', m)


# ---------------------------------------------------------------- scaling
SCALING_CELLS, SCALING_PERTS = 10_000, (500, 2863, 5000)
SCALING_JSON, SCALING_PNG = HERE/'results'/'scaling.json', HERE/'results'/'scaling.png'


def _link_folder(d, data, skip=()):
    "Make `d` and link into it every file of the data folder `data` but those named in `skip`"
    d.mkdir(parents=True, exist_ok=True)
    for f in Path(data).iterdir():
        if f.name not in skip and not (d/f.name).exists(): (d/f.name).symlink_to(f.resolve())


def subset_screen(work, data, n_cells):
    "Data folder `work/subNk`: `data`'s files linked, its training file cut to about `n_cells` cells (built once); (folder, seconds or None)"
    d = Path(work)/f'sub{n_cells // 1000}k'
    if (d/TRAIN).exists(): return d, None
    print(f"building the {n_cells:,}-cell subset of {data.name} in {d} ...", file=sys.stderr, flush=True)
    _link_folder(d, data, skip=(TRAIN,))
    return d, measure_cmd(child('subset', Path(data)/TRAIN, d/TRAIN, n_cells))['wall_s']


def perts_folder(work, data, n):
    "Data folder `work/pertsN`: `data` with a predict_perturbations.txt of `n` names (its first; past its end, measured genes not in it)"
    from obesity_nbdev.core import read_var_names
    d = Path(work)/f'perts{n}'
    names = [l.strip() for l in (Path(data)/'predict_perturbations.txt').read_text().splitlines() if l.strip()]
    if n > len(names):
        have = set(names)
        names += [g for g in map(str, read_var_names(Path(data)/TRAIN)) if g not in have][:n - len(names)]
    if len(names) < n: raise SystemExit(f"only {len(names)} perturbation names for {n}")
    _link_folder(d, data, skip=('predict_perturbations.txt',))
    (d/'predict_perturbations.txt').write_text('\n'.join(names[:n]) + '\n')
    return d


def _nnz(path):
    import h5py
    with h5py.File(path, 'r') as f:
        e = f['X']; return int(e['data'].shape[0]) if isinstance(e, h5py.Group) else int(e.size)


def scaling(a, scratch):
    "Time and peak RSS of aggregation, train and infer at three sizes; the rows"
    rows = []
    def row(step, size_name, size, unit, m, **kw):
        r = dict(step=step, size_name=size_name, size=size, unit=unit, **{k: v for k, v in m.items() if k != 'stdout'}, **kw)
        rows.append(r)
        print(f"  {step:<12}{size_name:<20}{r['wall_s']:>9.1f} s wall {r['cpu_s']:>9.1f} s CPU {r['peak_rss_mb']:>7,} MB", file=sys.stderr, flush=True)
    small, _ = screen(a.work, 'small', a.quiet)
    full, _ = screen(a.work, 'full', a.quiet)
    sub, _ = subset_screen(a.work, small, SCALING_CELLS)
    for name, d in ((f'{SCALING_CELLS // 1000}k cells', sub), ('small', small), ('full', full)):
        train = d/TRAIN
        shape, nnz, gb = _shape(train), _nnz(train), train.stat().st_size / GB
        kw = dict(cells=shape[0], genes=shape[1], file_gb=round(gb, 2))
        print(f"scaling on {name}: {shape[0]:,} x {shape[1]:,}, {nnz:,} nonzeros, {gb:.2f} GB ...", file=sys.stderr, flush=True)
        measure_cmd(child('raw-read', train))                       # warm the page cache, untimed
        row('raw read', name, nnz, 'nonzeros', measure_cmd(child('raw-read', train)), **kw)
        row('aggregation', name, nnz, 'nonzeros', measure_cmd(child('agg-ours', train, 300)), **kw)
        md = scratch/f'scaling_model_{d.name}'
        row('train', name, nnz, 'nonzeros', measure_cmd(cli('train', '--data', d, '--model-dir', md, '--model', a.model, '--quiet')), **kw)
        if d is not small: shutil.rmtree(md, ignore_errors=True)
    md = scratch/f'scaling_model_{small.name}'
    for n in SCALING_PERTS:
        d, out = perts_folder(scratch, small, n), scratch/'scaling_pred'
        print(f"scaling infer: {n:,} perturbations ...", file=sys.stderr, flush=True)
        m = measure_cmd(cli('infer', '--data', d, '--model-dir', md, '--out', out, '--all', '--quiet'), sync=True)
        size = (out/'prediction.h5ad').stat().st_size
        shutil.rmtree(out)
        row('infer', f'{n:,} perturbations', n, 'perturbations', m, file_gb=round(size / GB, 2))
    for step in dict.fromkeys(r['step'] for r in rows):
        rs = [r for r in rows if r['step'] == step]
        for r in rs:
            r['size_x'] = r['size'] / rs[0]['size']
            r['time_x'] = r['wall_s'] / rs[0]['wall_s']
            r['time_per_size_x'] = r['time_x'] / r['size_x']
            r['rss_x'] = r['peak_rss_mb'] / rs[0]['peak_rss_mb']
    return rows


def scaling_plot(sc, path):
    "Wall time and peak RSS of every step against size, both relative to the smallest size, with the line of linear growth"
    import matplotlib; matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4.4))
    steps = list(dict.fromkeys(r['step'] for r in sc['rows']))
    top = max(r['size_x'] for r in sc['rows'])
    for ax in (ax1, ax2): ax.plot([1, top], [1, top], 'k--', lw=1, label='linear growth')
    for step in steps:
        rs = [r for r in sc['rows'] if r['step'] == step]
        x = [r['size_x'] for r in rs]
        ax1.plot(x, [r['time_x'] for r in rs], 'o-', label=step)
        ax2.plot(x, [r['rss_x'] for r in rs], 'o-', label=step)
    for ax, t in ((ax1, 'wall time'), (ax2, 'peak RSS')):
        ax.set_xscale('log'); ax.set_yscale('log')
        ax.set_xlabel('size relative to the smallest (nonzeros of X; perturbations for infer)')
        ax.set_ylabel(f'{t} relative to the smallest size'); ax.set_title(t); ax.grid(True, which='both', alpha=0.3)
    ax1.legend(fontsize=8)
    fig.suptitle(f"obesity_nbdev scaling, {sc['date']}, load average before {sc['load_before'][0]:.2f}, after {sc['load_after'][0]:.2f}", fontsize=9)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(str(path) + '.tmp.png'); fig.savefig(tmp, dpi=110); tmp.replace(path)
    plt.close(fig)


def scaling_markdown(sc):
    L = ["", "## Scaling", "",
         f"Written by `python bench/run.py --scaling` (figures also in `bench/results/scaling.json`), {sc['date']} "
         f"(run took {sc['run_s'] / 60:.1f} min); load average (1, 5, 15 min) before: {', '.join(f'{x:.2f}' for x in sc['load_before'])}; "
         f"after: {', '.join(f'{x:.2f}' for x in sc['load_after'])}{_steal_text(sc)}. Each case ran in its own subprocess, as above. Aggregation, the raw read "
         f"beside it and `train --model {sc['model']}` ran on three training files: a {SCALING_CELLS:,}-cell subset of `small` (the first cells of every "
         "perturbation, in proportion), `small` and `full`; their size is the stored nonzeros of X. `infer --all` of the model trained on `small` "
         "wrote 500, 2,863 and 5,000 perturbations x 100 cells x 10,238 genes (the first 500 of predict_perturbations.txt, all of it, and all of it "
         "followed by measured genes not in it). 'time / size' is the wall time per unit of size relative to the smallest size: 1.00 is linear "
         "growth, below 1 less than linear (fixed costs such as imports weigh less as the input grows).", "",
         "![Scaling](bench/results/scaling.png)", "",
         "| step | size | input | wall s | CPU s | peak RSS MiB | size x | time x | time / size | peak RSS x |",
         "| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for r in sc['rows']:
        inp = (f"{r['cells']:,} x {r['genes']:,}, {r['size']:,} nonzeros, {r['file_gb']:.2f} GB" if r['unit'] == 'nonzeros'
               else f"{r['size'] * 100:,} x 10,238 cells, {r['file_gb']:.2f} GB written")
        L.append(f"| {r['step']} | {r['size_name']} | {inp} | {r['wall_s']:,.1f} | {r['cpu_s']:,.1f} | {r['peak_rss_mb']:,} | "
                 f"{r['size_x']:.2f} | {r['time_x']:.2f} | {r['time_per_size_x']:.2f} | {r['rss_x']:.2f} |")
    worst = {s: max(r['time_per_size_x'] for r in sc['rows'] if r['step'] == s and r['size_x'] > 1) for s in dict.fromkeys(r['step'] for r in sc['rows'])}
    L += ["", "Largest 'time / size' of each step over the two larger sizes (no worse than linear when at most 1.00): "
          + '; '.join(f"{s} {v:.2f}" for s, v in worst.items()) + "."]
    return L


# ---------------------------------------------------------------- report
def machine():
    import numpy, h5py, psutil
    cpu = next((l.split(':', 1)[1].strip() for l in open('/proc/cpuinfo') if l.startswith('model name')), platform.processor())
    return dict(cpu=cpu, cpus=os.cpu_count(), mem_gb=round(psutil.virtual_memory().total / GB, 1),
                python=platform.python_version(), numpy=numpy.__version__, h5py=h5py.__version__, platform=platform.platform())


def cpu_times():
    "The machine's CPU time so far, by kind (psutil.cpu_times)"
    import psutil
    return psutil.cpu_times()._asdict()


def steal_share(before, after):
    "The share of the machine's CPU time between two `cpu_times()` that the hypervisor gave to other machines (None where not reported)"
    if 'steal' not in before: return None
    kinds = [k for k in before if k not in ('guest', 'guest_nice')]       # guest time is counted in user time already
    total = sum(after[k] - before[k] for k in kinds)
    return round((after['steal'] - before['steal']) / total, 3) if total > 0 else None


def _steal_text(r):
    s = r.get('steal')
    return '' if s is None else f"; CPU time stolen by the hypervisor (other virtual machines) during the run: {100 * s:.1f}% of the machine's"


def _get(rows, case): return next((r for r in rows if r['case'] == case), None)


def targets(rows, model):
    "Each speed and memory target as (name, ratio text, met) from this run's rows"
    out = []
    def ratio(a, b, k='wall_s'): return None if a is None or b is None else a[k] / b[k]
    def both(a, b): return f"{ratio(a, b):.2f}x wall ({ratio(a, b, 'cpu_s'):.2f}x CPU)"
    def gb(r): return f"{r['peak_rss_mb'] * 2**20 / GB:.2f} GB ({r['peak_rss_mb']:,} MiB)"
    qs, ours, raw = (_get(rows, f'{c}/small') for c in ('quickstarter', 'ours', 'raw-read'))
    if ours:
        s, r = ratio(qs, ours), ratio(ours, raw)
        out.append(dict(target='aggregation (small) >= 4x faster than the quickstarter', value=both(qs, ours), met=s >= 4))
        out.append(dict(target='aggregation (small) peak RSS <= 0.5 GB', value=gb(ours), met=ours['peak_rss_mb'] * 2**20 <= 0.5 * GB))
        out.append(dict(target='aggregation (small) <= 1.5x the raw read', value=both(ours, raw), met=r <= 1.5))
        if 'inner_s' in ours and 'inner_s' in raw:
            ri = ours['inner_s'] / raw['inner_s']
            out.append(dict(target='aggregation (small) <= 1.5x the raw read, time after imports', met=ri <= 1.5,
                            value=f"{ri:.2f}x ({ours['inner_s']:.2f} s vs {raw['inner_s']:.2f} s)"))
    tr, rawf = _get(rows, f'{model}/full'), _get(rows, 'raw-read/full')
    if tr and rawf:
        r = ratio(tr, rawf)
        out.append(dict(target=f'train ({model}) on full within 2x the raw read of its X', value=both(tr, rawf), met=r <= 2))
    inf, raww = _get(rows, f'ours/{model}'), _get(rows, 'raw-write')
    if inf and raww:
        r = ratio(inf, raww)
        out.append(dict(target=f'infer --all ({model}) within 1.5x the raw write', value=both(inf, raww), met=r <= 1.5))
        out.append(dict(target=f'infer --all ({model}) peak RSS <= 1 GB', value=gb(inf), met=inf['peak_rss_mb'] * 2**20 <= GB))
    b = _get(rows, 'ours/baseline')
    if b and raww:
        r = ratio(b, raww)
        out.append(dict(target='infer --all (baseline, Gaussian cells) within 1.5x the raw write', value=both(b, raww), met=r <= 1.5))
    sq, so = _get(rows, 'quickstarter'), _get(rows, 'ours')
    if sq and so:
        s = ratio(sq, so)
        out.append(dict(target="scoring >= 50x faster than the quickstarter's MMD", value=both(sq, so), met=s >= 50))
    return out


def markdown(res):
    L = ["# Benchmarks", "",
         "Written by `python bench/run.py" + (" --full" if res['args']['full'] else "") + "` (figures also in `bench/results/bench.json`). "
         "Every case ran in its own subprocess, one after the other, in one run: wall time (with a timed `os.sync()` after the cases "
         "that write a file), CPU time (user + system) and peak RSS (`ru_maxrss`) of the subprocess. The machine is shared: "
         "the load average is that of the whole machine." + (f" The cases that the targets compare (aggregation, train, infer and their limits) ran "
         f"{res['args']['repeats']} times, alternating with their limit, and each row is the run of median wall time (all the wall times are in its note)."
         + (lambda w: f" The raw write of the same bytes took from {min(w):.1f} to {max(w):.1f} s in this run." if w else '')((_get(res['rows'], 'raw-write') or {}).get('walls'))
         if res['args'].get('repeats', 1) > 1 else ''), "",
         f"- date: {res['date']} (run took {res['run_s'] / 60:.1f} min)",
         f"- machine: {res['machine']['cpu']}, {res['machine']['cpus']} cores, {res['machine']['mem_gb']} GB RAM; "
         f"Python {res['machine']['python']}, numpy {res['machine']['numpy']}, h5py {res['machine']['h5py']}",
         f"- load average (1, 5, 15 min) before: {', '.join(f'{x:.2f}' for x in res['load_before'])}; "
         f"after: {', '.join(f'{x:.2f}' for x in res['load_after'])}" + _steal_text(res)]
    for s in res['screens']:
        L.append(f"- screen `{s['scale']}`: training file {s['train_shape'][0]:,} x {s['train_shape'][1]:,}, {s['train_gb']:.2f} GB "
                 + ("(reused from the work folder)" if s['build_s'] is None else f"(built in {s['build_s']:.0f} s)"))
    L += ["", "| step | case | wall s | CPU s | peak RSS MiB | x the limit | note |", "| --- | --- | ---: | ---: | ---: | ---: | --- |"]
    lim = {'aggregation': lambda r: _get(res['rows'], f"raw-read/{r.get('scale', 'small')}"), 'infer': lambda r: _get(res['rows'], 'raw-write'),
           'train': lambda r: _get(res['rows'], f"raw-read/{r.get('scale', 'small')}")}
    for r in res['rows']:
        l = lim.get(r['step'], lambda r: None)(r)
        x = '' if l is None or l is r else f"{r['wall_s'] / l['wall_s']:.2f}"
        note = '; '.join(n for n in (r.get('note', ''), f"median of {len(r['walls'])} runs ({', '.join(f'{w:.1f}' for w in r['walls'])} s)" if 'walls' in r else '', f"{r['inner_s']:.1f} s after imports" + (f" ({r['imports_s']:.1f} s of imports)" if 'imports_s' in r else '') if 'inner_s' in r else '',
                                     f"{r['scale']} screen" if 'scale' in r else '') if n)
        L.append(f"| {r['step']} | {r['label']} | {r['wall_s']:,.1f} | {r['cpu_s']:,.1f} | {r['peak_rss_mb']:,} | {x} | {note} |")
    L += ["", "'x the limit' is the wall time over that of the raw h5py read of the same training file's X (aggregation, train) "
          "or of the raw h5py write of the same bytes with fsync (infer).", "", "## Targets", "",
          "Ratios of wall times (the CPU-time ratio beside them); met or not is judged on the wall time, GB = 10^9 bytes. "
          "The aggregation's ratio to the raw read is also given on the time after imports: the package's imports (pandas, scipy, "
          "anndata) take " + (lambda r: f"{r['imports_s']:.1f} s" if r and 'imports_s' in r else 'the same time')(_get(res['rows'], 'ours/small'))
          + " whatever the file's size (the quickstarter's take as long), while the raw read imports only h5py.", "",
          "| target | this run | met |", "| --- | ---: | --- |"]
    L += [f"| {t['target']} | {t['value']} | {'met' if t['met'] else 'not met'} |" for t in res['targets']]
    if SCALING_JSON.exists(): L += scaling_markdown(json.loads(SCALING_JSON.read_text()))
    return '\n'.join(L) + '\n'


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--work', default=str(HERE/'work'), help='folder for the screens (reused) and the scratch files (deleted)')
    ap.add_argument('--full', action='store_true', help='also build the full screen: aggregation and train on it')
    ap.add_argument('--steps', default=','.join(STEPS), help=f"comma-separated subset of {','.join(STEPS)}")
    ap.add_argument('--model', default=None, help='the default model (default: obesity_nbdev.core.DEFAULT_MODEL)')
    ap.add_argument('--repeats', type=int, default=3, help="runs of the cases that the targets compare (aggregation, train, infer and their limits), alternating; the median is reported")
    ap.add_argument('--qs-perts', type=int, default=500, help="perturbations written by the quickstarter's two writers (extrapolated)")
    ap.add_argument('--qs-mmd', type=int, default=50, help="perturbations scored by the quickstarter's MMD (extrapolated)")
    ap.add_argument('--json', default=str(HERE/'results'/'bench.json'))
    ap.add_argument('--markdown', default=str(ROOT/'BENCHMARKS.md'))
    ap.add_argument('--quiet', action='store_true', help='no progress bars while building a screen')
    ap.add_argument('--from-json', metavar='JSON', help='only write the markdown again from a previous run\'s JSON (no measuring)')
    ap.add_argument('--scaling', action='store_true', help='measure the scaling of aggregation, train and infer with the input size instead (see above)')
    ap.add_argument('--child', help=argparse.SUPPRESS)
    a, rest = ap.parse_known_args(argv)
    if a.child: return run_child(a.child, rest)
    if rest: ap.error(f"unrecognised arguments: {' '.join(rest)}")
    if a.repeats < 1: ap.error(f"--repeats must be at least 1, not {a.repeats}")
    if a.from_json:
        res = json.loads(Path(a.from_json).read_text()); res['targets'] = targets(res['rows'], res['args']['model'])
        Path(a.markdown).write_text(markdown(res)); Path(a.from_json).write_text(json.dumps(res, indent=1) + '\n'); return res
    if a.scaling: return main_scaling(a)
    steps = [s.strip() for s in a.steps.split(',') if s.strip()]
    if bad := [s for s in steps if s not in STEPS]: ap.error(f"unknown step(s) {', '.join(bad)}: choose from {','.join(STEPS)}")
    from obesity_nbdev.core import DEFAULT_MODEL
    a.model = a.model or DEFAULT_MODEL
    Path(a.work).mkdir(parents=True, exist_ok=True)
    t_run, load_before, date, cpu_before = time.perf_counter(), os.getloadavg(), datetime.datetime.now(datetime.timezone.utc), cpu_times()
    screens, b = [], Bench(a)
    try:
        scales = ['small'] + (['full'] if a.full else [])
        data = {}
        for s in scales:
            data[s], built = screen(a.work, s, a.quiet)
            screens.append(dict(scale=s, build_s=built, train_shape=_shape(data[s]/TRAIN), train_gb=(data[s]/TRAIN).stat().st_size / GB))
        if 'aggregation' in steps:
            for s in scales: b.aggregation(data[s], s)
        if 'train' in steps:
            for s in scales: b.train(data[s], s)
        if 'infer' in steps: b.infer(data['small'])
        if 'scoring' in steps: b.scoring()
        if 'cv' in steps: b.cv(data['small'])
    finally:
        shutil.rmtree(b.scratch, ignore_errors=True)
    res = dict(date=date.strftime('%Y-%m-%d %H:%M UTC'), run_s=round(time.perf_counter() - t_run, 1), machine=machine(),
               load_before=[round(x, 2) for x in load_before], load_after=[round(x, 2) for x in os.getloadavg()],
               steal=steal_share(cpu_before, cpu_times()), args=dict(full=a.full, steps=steps, model=a.model, repeats=a.repeats, qs_perts=a.qs_perts, qs_mmd=a.qs_mmd), screens=screens, rows=b.rows)
    res['targets'] = targets(b.rows, a.model)
    for p, text in ((a.json, json.dumps(res, indent=1) + '\n'), (a.markdown, markdown(res))):
        Path(p).parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(str(p) + '.tmp'); tmp.write_text(text); tmp.replace(p)
    print(markdown(res))
    return res


def _write(p, text):
    Path(p).parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(str(p) + '.tmp'); tmp.write_text(text); tmp.replace(p)


def main_scaling(a):
    "The --scaling run: scaling.json, scaling.png, and BENCHMARKS.md again (its one-run table from --json)"
    from obesity_nbdev.core import DEFAULT_MODEL
    a.model = a.model or DEFAULT_MODEL
    Path(a.work).mkdir(parents=True, exist_ok=True)
    t_run, load_before, date, cpu_before = time.perf_counter(), os.getloadavg(), datetime.datetime.now(datetime.timezone.utc), cpu_times()
    scratch = Path(tempfile.mkdtemp(prefix='scratch_', dir=a.work))
    try: rows = scaling(a, scratch)
    finally: shutil.rmtree(scratch, ignore_errors=True)
    sc = dict(date=date.strftime('%Y-%m-%d %H:%M UTC'), run_s=round(time.perf_counter() - t_run, 1), machine=machine(),
              load_before=[round(x, 2) for x in load_before], load_after=[round(x, 2) for x in os.getloadavg()],
              steal=steal_share(cpu_before, cpu_times()), model=a.model, rows=rows)
    _write(SCALING_JSON, json.dumps(sc, indent=1) + '\n')
    scaling_plot(sc, SCALING_PNG)
    if Path(a.json).exists():
        res = json.loads(Path(a.json).read_text()); _write(a.markdown, markdown(res))
    print('\n'.join(scaling_markdown(sc)))
    return sc


if __name__ == '__main__':
    main()
