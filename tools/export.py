"""Write tools/docs.py from the cells of nbs/14_docs.ipynb marked `#| tool` (nbdev-export writes only the package)

Run from the checkout after editing the notebook: `python tools/export.py` (.ci/run checks that it was)."""
from pathlib import Path
from nbdev.process import NBProcessor
from nbdev.maker import ModuleMaker

ROOT = Path(__file__).resolve().parent.parent
TOOLS = {'14_docs.ipynb': 'docs'}   # notebook in nbs/ -> module in tools/

def export_tools(root=ROOT):
    "Export each tool notebook's `#| tool` cells to its module in tools/"
    for nb, name in TOOLS.items():
        path = root/'nbs'/nb
        cells = [c for c in NBProcessor(path).nb.cells if 'tool' in c.directives_ or (c.cell_type == 'markdown' and c.source.startswith('# '))]
        ModuleMaker(root/'tools', name, path).make(cells, cells, lib_path=root/'obesity_nbdev')

if __name__ == '__main__': export_tools()
