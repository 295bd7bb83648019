"""numba caches a compiled function on disk keyed on the text of the file that defines it, with
the kernels it calls (from other files) compiled in. A kernel module whose code includes another
file's kernels or constants therefore carries ``_KERNEL_SOURCES``, a digest of those files: any
change to them must change the dependent file too, so that no cache anywhere (a developer's, an
upgraded installation's) keeps running the old code.

    python tests/test_kernel_cache.py --write    # set every digest after editing a kernel file
"""

from __future__ import annotations

import hashlib
import re
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "bayesdx"
#: module -> the files whose compiled code or constants its cached functions include
DEPENDS = {
    "_jtkernel.py": ("_jtops.py", "_jtplan.py"),
    "_jtentry.py": ("_jtkernel.py", "_jtops.py", "_jtplan.py"),
    "_cohortkernel.py": ("_jtkernel.py", "_jtops.py", "_jtplan.py"),
    "_tablekernel.py": ("_jtentry.py",),
}
PATTERN = re.compile(r'^_KERNEL_SOURCES = "([0-9a-f]*)"', re.M)


def digest(module: str) -> str:
    h = hashlib.sha256()
    for name in DEPENDS[module]:
        h.update(name.encode() + b"\0" + (PACKAGE / name).read_bytes())
    return h.hexdigest()[:16]


def imports_of(module: str) -> set[str]:
    text = (PACKAGE / module).read_text()
    return {f"{m}.py" for m in re.findall(r"^from \.(\w+) import", text, re.M)}


@pytest.mark.parametrize("module", sorted(DEPENDS))
def test_kernel_module_names_the_sources_compiled_into_it(module):
    kernel_files = {p.name for p in PACKAGE.glob("*.py") if "cache=True" in p.read_text()} | {"_jtplan.py"}
    assert imports_of(module) & kernel_files <= set(DEPENDS[module]), (
        f"{module} imports kernel code not listed in DEPENDS")
    found = PATTERN.search((PACKAGE / module).read_text())
    assert found, f"{module} has no _KERNEL_SOURCES line"
    assert found.group(1) == digest(module), (
        f"bayesdx/{module}: a file compiled into its cached kernels changed; run "
        f"`python tests/test_kernel_cache.py --write` (expected _KERNEL_SOURCES = \"{digest(module)}\")")


def test_every_module_importing_kernels_is_listed():
    kernel_files = {p.name for p in PACKAGE.glob("*.py") if "njit(cache=True" in p.read_text()}
    for name in kernel_files:
        deps = imports_of(name) & (kernel_files | {"_jtplan.py"})
        if deps:
            assert name in DEPENDS, f"{name} caches kernels that include {sorted(deps)}: add it to DEPENDS"


def write() -> None:
    for module in ("_jtkernel.py", "_jtentry.py", "_cohortkernel.py", "_tablekernel.py"):  # dependencies first
        path = PACKAGE / module
        text = path.read_text()
        new = PATTERN.sub(f'_KERNEL_SOURCES = "{digest(module)}"', text)
        if new != text:
            path.write_text(new)
            print(f"updated bayesdx/{module}")


if __name__ == "__main__" and "--write" in sys.argv:
    write()
