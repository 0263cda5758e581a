"Benchmark: build the small synthetic screen; print and save wall time, peak memory and file sizes"
import json, resource, sys, tempfile, time
from pathlib import Path
from obesity_nbdev.synth import make_screen

def peak_rss_mb():
    "Peak resident memory of this process and of its children, in MiB (ru_maxrss is in KiB on Linux)"
    me, kids = (resource.getrusage(w).ru_maxrss / 1024 for w in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN))
    return round(me, 1), round(kids, 1)

def main(scale='small', seed=0):
    with tempfile.TemporaryDirectory() as d:
        t = time.perf_counter()
        out = make_screen(Path(d)/scale, scale=scale, seed=seed, quiet=True)
        wall = time.perf_counter() - t
        sizes = {p.name: p.stat().st_size for p in sorted(out.iterdir())}
    me, kids = peak_rss_mb()
    res = dict(scale=scale, seed=seed, wall_s=round(wall, 1), peak_rss_mb=me, peak_rss_children_mb=kids,
               file_bytes=sizes, total_gb=round(sum(sizes.values()) / 1e9, 2))
    print(json.dumps(res, indent=1))
    dest = Path(__file__).parent/'results'/f'synth_{scale}.json'
    dest.parent.mkdir(exist_ok=True)
    dest.write_text(json.dumps(res, indent=1) + '\n')
    return res

if __name__ == '__main__': main(*(sys.argv[1:2] or ['small']))
