"""End-to-end tests: the real operator against an emulated API server (tests.support.harness)."""
