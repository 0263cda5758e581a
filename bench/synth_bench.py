"Benchmark: build the small synthetic screen; print and save wall time, peak memory, file sizes and its realism table"
import json, resource, sys, tempfile, time
from pathlib import Path
from obesity_nbdev.synth import make_screen
from obesity_nbdev.realism import screen_stats, realism_table, format_realism

def peak_rss_mb():
    "Peak resident memory of this process and of its children, in MiB (ru_maxrss is in KiB on Linux)"
    me, kids = (resource.getrusage(w).ru_maxrss / 1024 for w in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN))
    return round(me, 1), round(kids, 1)

def main(scale='small', seed=0):
    with tempfile.TemporaryDirectory(dir='/tmp') as d:
        t = time.perf_counter()
        out = make_screen(Path(d)/scale, scale=scale, seed=seed, quiet=True)
        wall = time.perf_counter() - t
        me, kids = peak_rss_mb()             # the build's peak, before the realism pass reads the file
        sizes = {p.name: p.stat().st_size for p in sorted(out.iterdir())}
        t = time.perf_counter()
        table = realism_table(screen_stats(out))
        realism_s = time.perf_counter() - t
    res = dict(scale=scale, seed=seed, wall_s=round(wall, 1), peak_rss_mb=me, peak_rss_children_mb=kids,
               within_4gb=me < 4096, file_bytes=sizes, total_gb=round(sum(sizes.values()) / 1e9, 2),
               realism_s=round(realism_s, 1), realism=table.to_dict('records'))
    print(json.dumps({k: v for k, v in res.items() if k != 'realism'}, indent=1))
    print(format_realism(table, f'realism, {scale} screen, seed {seed}'))
    dest = Path(__file__).parent/'results'/(f'synth_{scale}.json' if seed == 0 else f'synth_{scale}_seed{seed}.json')
    dest.parent.mkdir(exist_ok=True)
    dest.write_text(json.dumps(res, indent=1) + '\n')
    return res

if __name__ == '__main__': main(*(sys.argv[1:2] or ['small']), *map(int, sys.argv[2:3]))
