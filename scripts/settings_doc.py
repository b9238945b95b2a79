"""Check or rewrite the operator settings' table in docs/configuration.md.

The table is rendered from the declarations in k8s-operator/config.py (see
``chalkline.operator.config_reference``); this script is the only writer of
the text between its markers.

    .venv/bin/python scripts/settings_doc.py            # exit 1 if the doc is stale
    .venv/bin/python scripts/settings_doc.py --write    # bring it up to date
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from chalkline.operator.config_reference import REGENERATE, with_current_reference

DOC = Path(__file__).resolve().parent.parent / "docs" / "configuration.md"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--write", action="store_true", help="rewrite the doc in place")
    args = parser.parse_args(argv)
    text = DOC.read_text(encoding="utf-8")
    current = with_current_reference(text)
    if current == text:
        print(f"{DOC.name}: operator settings table is current")
        return 0
    if args.write:
        DOC.write_text(current, encoding="utf-8")
        print(f"{DOC.name}: operator settings table rewritten")
        return 0
    print(f"{DOC.name}: operator settings table is stale; run: {REGENERATE}", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
