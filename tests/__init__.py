"""The test suite: a package, so `from tests.conftest import ...` resolves under any runner."""
