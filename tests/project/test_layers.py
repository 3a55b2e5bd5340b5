"""The layering is a contract: import-linter checks it on the code as it is, and on a copy broken on purpose."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support import ROOT

pytestmark = pytest.mark.servers  # runs lint-imports

PACKAGES = ("kernel", "adapters", "wallets", "engine", "tools", "localnet")
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def lint_imports(root: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(root)}
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache", "--config", str(root / "pyproject.toml")],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_every_layer_contract_is_kept() -> None:
    result = lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


@pytest.fixture
def copy_of_the_tree(tmp_path: Path) -> Path:
    for package in PACKAGES:
        shutil.copytree(ROOT / package, tmp_path / package, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    return tmp_path


@pytest.mark.parametrize(
    ("module", "bad_import", "contract"),
    [
        ("kernel/money.py", "import engine.worker", "The kernel imports nothing of ours"),
        ("engine/routing/router.py", "import adapters.dexes.raydium_cpmm", "The engine imports no concrete adapter"),
        # a folder no contract names yet is covered all the same
        ("engine/routing/router.py", "import adapters.orca_whirlpool", "The engine imports no concrete adapter"),
        ("engine/db/orders.py", "import engine.api.errors", "Storage imports nothing of the service above it"),
        ("engine/execution.py", "import engine.api.present", "The executor and the watcher import no API module"),
        ("localnet/faults.py", "import adapters.solana.rpc", "The local network needs only the kernel"),
        ("adapters/pools.py", "import tools.cli", "Each top-level folder is one layer"),
        ("adapters/settlement/plans.py", "import adapters.dexes.raydium_cpmm", "The settlement venue imports no DEX"),
        ("adapters/pools.py", "import adapters.dexes.raydium_cpmm", "Only the registry builds adapters"),
        ("adapters/dexes/raydium_cpmm/config.py", "import adapters.dexes.meteora_dlmm.config", "DEX adapters are"),
        ("adapters/dexes/orca_whirlpool/config.py", "import adapters.dexes.raydium_cpmm", "DEX adapters are"),
        ("engine/api/fields.py", "import engine.api.orders", "No import cycle between sibling modules"),
    ],
)  # fmt: skip
def test_an_import_against_the_layers_breaks_its_contract(
    copy_of_the_tree: Path, module: str, bad_import: str, contract: str
) -> None:
    path = copy_of_the_tree / module
    for folder in (path.parent, *path.parent.parents):  # a new adapter folder, as a new DEX would add it
        if folder == copy_of_the_tree:
            break
        folder.mkdir(exist_ok=True)
        (folder / "__init__.py").touch()
    (copy_of_the_tree / "adapters" / "orca_whirlpool.py").write_text("")  # an adapter module no contract names
    path.write_text((path.read_text() if path.exists() else "") + f"\n{bad_import}  # noqa\n")
    result = lint_imports(copy_of_the_tree)
    assert result.returncode != 0
    broken = [line for line in result.stdout.splitlines() if " BROKEN" in line]
    assert any(line.startswith(contract) for line in broken), result.stdout
