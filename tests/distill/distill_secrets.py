"""Fake credentials of the distillation tests."""

#: a key that matches no generic key pattern: only the module's knowledge of the env var hides it
SECRET = "TESTKEY-8f3a9c2e71d4b605"
AZURE_SECRET = "AZKEY-77c1e0a9f3b24d18"
