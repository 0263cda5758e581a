"Benchmark: proportions_of_cells on a sample of a screen's cells (dense float32, as a model predicts them): time, memory, and labels against n_perm=50 and the screen's own"
import json, resource, sys, time
from pathlib import Path
import numpy as np, pandas as pd, scipy.sparse as sp
import anndata as ad
from obesity_nbdev.core import PROGRAMS, FILES, read_obs, read_var_names, iter_rows
from obesity_nbdev.programs import proportions_from_labels
from obesity_nbdev.labels import program_labels, label_scale, label_agreement, proportions_of_cells

def sample_cells(train, n, seed=0):
    "`n` training cells drawn without replacement (file order), X dense float32, obs with the screen's own labels"
    obs = read_obs(train)
    rows = np.sort(np.random.default_rng(seed).choice(len(obs), size=min(n, len(obs)), replace=False))
    keep, parts = np.zeros(len(obs), bool), []
    keep[rows] = True
    for s, blk in iter_rows(train, chunk_rows=4096):
        k = keep[s:s + blk.shape[0]]
        if k.any(): parts.append(blk[k].toarray().astype(np.float32))
    o = obs.iloc[rows][['gene'] + PROGRAMS].copy()
    o['gene'] = o.gene.astype(str)
    return ad.AnnData(X=np.concatenate(parts), obs=o)

def props_l1(a, b):
    "Mean over perturbations of 0.75 * (|d pre_adipo| + |d adipo| + |d other|) (the L1 metric's compartment part)"
    a = a.set_index('gene'); b = b.set_index('gene').loc[a.index]
    return float((0.75 * (a[['pre_adipo', 'adipo', 'other']] - b[['pre_adipo', 'adipo', 'other']]).abs().sum(1)).mean())

def main(data, sizes='2500,25000', perms='50,20,10,5', tag='small'):
    train = Path(data)/FILES['train']
    res = dict(data=str(data), runs=[])
    for n in map(int, sizes.split(',')):
        cells = sample_cells(train, n)
        cells.var_names = pd.Index(read_var_names(train).astype(str))
        own = proportions_from_labels(cells.obs)
        ref = None
        for k in map(int, perms.split(',')):
            t, c = time.perf_counter(), time.process_time()
            lab = program_labels(ad.AnnData(X=label_scale(cells.X), var=cells.var[[]]), n_perm=k, seed=0, quiet=True)
            wall, cpu = time.perf_counter() - t, time.process_time() - c
            o = cells.obs[['gene']].copy(); o[PROGRAMS] = lab[PROGRAMS].to_numpy()
            props = proportions_from_labels(o)
            run = dict(cells=n, n_perm=k, wall_s=round(wall, 1), cpu_s=round(cpu, 1),
                       peak_rss_mb=round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
                       labelled={p: int(lab[p].sum()) for p in PROGRAMS},
                       vs_screen_labels=label_agreement(cells.obs, lab))
            if ref is None: ref, ref_props = lab, props
            else:
                run['vs_n_perm_50'] = dict(label_agreement(pd.concat([cells.obs[['gene']].reset_index(drop=True), ref[PROGRAMS].reset_index(drop=True)], axis=1), lab),
                                           proportions_l1=props_l1(ref_props, props))
            print(json.dumps(run), flush=True)
            res['runs'].append(run)
        t = time.perf_counter()
        p = proportions_of_cells(cells, n_perm=10, seed=0)
        res['runs'].append(dict(cells=n, n_perm=10, call='proportions_of_cells', wall_s=round(time.perf_counter() - t, 1), perturbations=len(p)))
        print(json.dumps(res['runs'][-1]), flush=True)
    dest = Path(__file__).parent/'results'/f"proportions_{tag}.json"
    dest.write_text(json.dumps(res, indent=1) + '\n')
    return res

if __name__ == '__main__': main(*sys.argv[1:])
