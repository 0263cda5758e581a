"""Write the development tools in tools/ from the cells of their notebooks marked `#| tool` (nbdev-export writes only the package)

Run from the checkout after editing a notebook: `python tools/export.py` (.ci/run checks that it was)."""
from pathlib import Path
from fastcore.nbio import NbCell
from nbdev.process import NBProcessor
from nbdev.maker import ModuleMaker

ROOT = Path(__file__).resolve().parent.parent
TOOLS = {   # notebook in nbs/ -> (module in tools/, its one-line summary; None: the notebook's own `>` summary)
    '15_docs.ipynb': ('docs', None),
    '13_submission.ipynb': ('harness', "Run a submission notebook offline the way the platform does: convert it with crunch-convert, "
                                       "run train and infer in isolated processes, then check and score the output"),
}

def export_tools(root=ROOT):
    "Export each tool notebook's `#| tool` cells to its module in tools/"
    for nb, (name, summary) in TOOLS.items():
        path = root/'nbs'/nb
        cells = NBProcessor(path).nb.cells
        head = [c for c in cells if c.cell_type == 'markdown' and c.source.startswith('# ')][:1]
        if summary is not None: head = [NbCell(0, dict(cell_type='markdown', source=f"# {name}\n> {summary}", metadata={}))]
        ModuleMaker(root/'tools', name, path).make(head + [c for c in cells if 'tool' in c.directives_], lib_path=root/'obesity_nbdev')

if __name__ == '__main__': export_tools()
