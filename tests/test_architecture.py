"""The package's shape holds: a dozen modules at the top at most, and imports that follow the data
flow (model/netfilter/kube ← parse/render ← analysis ← simulation, fleets, tracing ← report ← cli), never upward or
sideways between parse/ and render/."""

from __future__ import annotations

import ast
from pathlib import Path

from support.paths import ROOT

PACKAGE = ROOT / "kubechain"
#: each layer may import from the layers listed for it (and from itself)
ALLOWED = {
    "base": {"base"},
    "parse": {"base", "parse"},
    "render": {"base", "render"},
    "analysis": {"base", "analysis"},
    "simulation": {"base", "analysis", "simulation"},
    "fleets": {"base", "parse", "analysis", "fleets"},
    "tracing": {"base", "analysis", "tracing"},
    "report": {"base", "analysis", "simulation", "fleets", "tracing", "report"},
    "testing": {"base", "analysis", "render", "parse", "testing"},
    # the commands call the public API (kubechain/__init__.py), so they hold no logic the library lacks
    "cli": {"base", "parse", "render", "analysis", "simulation", "fleets", "tracing", "report", "cli", "api"},
    "api": {"base", "parse", "render", "analysis", "simulation", "fleets", "tracing", "report", "testing", "cli",
            "api"},
}
BASE = {"model", "netfilter", "kube", "kube_nft", "errors", "memory", "selection"}


def layer(module: str) -> str:
    """The layer of a dotted module name inside kubechain (`kubechain.parse.save` → parse)."""
    parts = module.split(".")[1:]
    if not parts or parts[0] in ("__init__", "__main__"):
        return "api"
    if parts[0] in BASE:
        return "base"
    return parts[0]


def imports(path: Path) -> set[str]:
    """kubechain modules `path` imports, as dotted names (relative imports resolved)."""
    module = "kubechain." + ".".join(path.relative_to(PACKAGE).with_suffix("").parts)
    package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                name = f"{base}.{node.module}" if node.module else base
                targets = [name] if node.module else [f"{base}.{a.name}" for a in node.names]
            else:
                targets = [node.module or ""]
            found.update(t for t in targets if t.startswith("kubechain"))
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("kubechain"))
    return found


def test_imports_follow_the_data_flow():
    wrong = []
    for path in sorted(PACKAGE.rglob("*.py")):
        module = "kubechain." + ".".join(path.relative_to(PACKAGE).with_suffix("").parts)
        for target in imports(path):
            if layer(target) not in ALLOWED[layer(module)]:
                wrong.append(f"{module} imports {target}")
    assert not wrong, "\n".join(wrong)


def test_at_most_a_dozen_modules_at_the_top():
    top = [p.name for p in PACKAGE.glob("*.py")]
    assert len(top) <= 12, top


def test_every_subpackage_ships():
    """pyproject lists the packages by name, so a subpackage missing there works in a checkout and
    is absent from an installed copy (`pip install .`), as CI installs it."""
    import tomllib

    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    found = {"kubechain." + p.parent.name for p in PACKAGE.glob("*/__init__.py")}
    assert found <= listed, f"not in pyproject.toml's packages: {sorted(found - listed)}"
