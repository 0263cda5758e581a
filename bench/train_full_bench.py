"""Training on a file the size of the platform's default training file: time and peak memory of fit_model.

The platform's train() runs on obesity_challenge_1.h5ad in its default variant, 88,202 cells x 21,592 genes.
This script builds the synthetic screen of that size once (obesity_nbdev.synth.make_screen(scale='full'),
into a temporary folder unless --data names one; it takes minutes), then runs
obesity_nbdev.pipeline.fit_model on it in a fresh subprocess. The parent measures the subprocess's wall time
and reads its peak RSS (ru_maxrss from os.wait4); the child reports the time spent inside fit_model.

Usage: python bench/train_full_bench.py [--data DIR] [--keep] [--scale full]
Results: bench/results/train_full.json and a short table on stdout.
"""
from __future__ import annotations
import argparse, json, os, platform, subprocess, sys, tempfile, time
from pathlib import Path

HERE = Path(__file__).resolve().parent

CHILD = r'''
import json, sys, time
t0 = time.perf_counter()
from obesity_nbdev.pipeline import fit_model
t1 = time.perf_counter()
m = fit_model(sys.argv[1], sys.argv[2], quiet=True)
t2 = time.perf_counter()
print(json.dumps(dict(import_s=t1 - t0, fit_s=t2 - t1, model=type(m).__name__)))
'''


def _h5ad_shape(path):
    import h5py
    with h5py.File(path, 'r') as f:
        X = f['X']
        return [int(n) for n in (X.attrs['shape'] if 'shape' in X.attrs else X.shape)]


def _run_child(data, model_dir):
    "Run fit_model in a subprocess: (wall seconds, peak RSS in MB, the child's report)"
    t0 = time.perf_counter()
    p = subprocess.Popen([sys.executable, '-c', CHILD, str(data), str(model_dir)], stdout=subprocess.PIPE, text=True)
    _, status, usage = os.wait4(p.pid, 0)
    wall = time.perf_counter() - t0
    out = p.stdout.read()
    p.returncode = os.waitstatus_to_exitcode(status)
    if p.returncode != 0: sys.exit(f"fit_model failed with exit code {p.returncode}")
    return wall, usage.ru_maxrss / 1024, json.loads(out.strip().splitlines()[-1])


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--data', help='an existing data folder to train on (default: build the synthetic screen)')
    ap.add_argument('--scale', default='full', help="synthetic scale to build (default: full)")
    ap.add_argument('--keep', action='store_true', help='keep the temporary folder (printed)')
    a = ap.parse_args(argv)
    tmp = tempfile.mkdtemp(prefix='train_full_')
    res = dict(machine=dict(python=platform.python_version(), cpus=os.cpu_count(), platform=platform.platform()))
    try:
        data = Path(a.data) if a.data else Path(tmp)/'data'
        if not a.data:
            from obesity_nbdev.synth import make_screen
            t0 = time.perf_counter()
            make_screen(data, scale=a.scale, seed=0, quiet=True)
            res['build_screen_s'] = round(time.perf_counter() - t0, 1)
        train = data/'obesity_challenge_1.h5ad'
        res['train_file'] = dict(shape=_h5ad_shape(train), gb=round(train.stat().st_size / 1e9, 2), scale=None if a.data else a.scale)
        wall, rss, child = _run_child(data, Path(tmp)/'model')
        res['fit_model'] = dict(wall_s=round(wall, 1), inside_s=round(child['fit_s'], 1), import_s=round(child['import_s'], 1),
                                peak_rss_mb=round(rss), model=child['model'])
        print(json.dumps(res), flush=True)
    finally:
        if a.keep: print(f"kept {tmp}")
        else:
            import shutil; shutil.rmtree(tmp, ignore_errors=True)
    (HERE/'results').mkdir(exist_ok=True)
    (HERE/'results'/'train_full.json').write_text(json.dumps(res, indent=1) + '\n')
    f = res['fit_model']
    print(f"train file {res['train_file']['shape'][0]:,} x {res['train_file']['shape'][1]:,} ({res['train_file']['gb']} GB)")
    if 'build_screen_s' in res: print(f"building the synthetic screen: {res['build_screen_s']} s")
    print(f"fit_model: {f['wall_s']} s wall ({f['inside_s']} s inside), peak RSS {f['peak_rss_mb']:,} MB")
    return res


if __name__ == '__main__': main()
