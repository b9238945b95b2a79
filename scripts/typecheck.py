"""Run mypy over the package as it is installed, not as it is laid out (see package_tree)."""

from __future__ import annotations

import subprocess
import sys

from package_tree import ROOT, build_tree


def main() -> int:
    build_tree()
    return subprocess.call([sys.executable, "-m", "mypy", *sys.argv[1:]], cwd=ROOT)


if __name__ == "__main__":
    sys.exit(main())
