"""The test suite: a package, so `from tests.support... import ...` resolves under any runner."""
