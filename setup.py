"""Package discovery for the user's top-level folders, installed as one ``splitgym`` namespace.

``costmodels/`` installs as ``splitgym.costmodels`` (and so on). setuptools' own ``find`` cannot add
that prefix, so every folder below the top level that holds an ``__init__.py`` is found here: a new
sub-package is packaged without anyone editing a list (tests/test_packaging.py checks it).
"""

from pathlib import Path

from setuptools import setup

TOP = ("costmodels", "envs", "agents", "executors", "experiments", "conf")
ROOT = Path(__file__).parent


def packages() -> list[str]:
    found = []
    for top in TOP:
        for init in sorted((ROOT / top).rglob("__init__.py")):
            rel = init.parent.relative_to(ROOT)
            found.append("splitgym." + ".".join(rel.parts))
    return found


if __name__ == "__main__":  # setuptools runs this file as __main__; tests import packages()
    setup(packages=packages(), package_dir={f"splitgym.{top}": top for top in TOP})
