"Benchmark: label a screen's cells as the organisers did; print and save wall time, CPU time, peak memory and agreement"
import json, resource, sys, time
from pathlib import Path
import numpy as np, pandas as pd
from obesity_nbdev.core import PROGRAMS, read_obs, matrix_shape
from obesity_nbdev.labels import program_labels, label_agreement

def main(h5ad, n_perm=50, tag=None, max_bytes=2**31):
    "Label `h5ad` (its own 0/1 labels, when present, are compared with ours)"
    h5ad = Path(h5ad)
    t, c = time.perf_counter(), time.process_time()
    lab = program_labels(h5ad, n_perm=int(n_perm), max_bytes=int(max_bytes))
    wall, cpu = time.perf_counter() - t, time.process_time() - c
    obs = read_obs(h5ad)
    res = dict(file=h5ad.name, shape=list(map(int, matrix_shape(h5ad))), n_perm=int(n_perm), max_bytes=int(max_bytes), wall_s=round(wall, 1), cpu_s=round(cpu, 1),
               peak_rss_mb=round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
               labelled={c: int(lab[c].sum()) for c in PROGRAMS})
    if all(c in obs.columns for c in PROGRAMS):
        res['agreement_with_file_labels'] = label_agreement(obs.reset_index(drop=True), lab.reset_index(drop=True))
    print(json.dumps(res, indent=1))
    dest = Path(__file__).parent/'results'/f"labels_{tag or h5ad.stem}.json"
    dest.parent.mkdir(exist_ok=True)
    dest.write_text(json.dumps(res, indent=1) + '\n')
    return res

if __name__ == '__main__': main(*sys.argv[1:])
