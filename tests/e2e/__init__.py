"""End-to-end tests: the real operator against an emulated API server.

A package, so its modules import each other relatively, the same way under
pytest and under mypy.
"""
