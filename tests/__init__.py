"""chalkline's tests: a package, so that every module has one name, ``tests.…``.

pytest imports them under that name (it puts the repository root on
``sys.path``), mypy names them the same from the root, and so does
``python -m tests.e2e.walkthrough``. Shared test code is in :mod:`tests.support`.
"""
