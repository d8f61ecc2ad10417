"""Fixtures for the distillation tests: a local OpenAI-protocol server and clean LLM env vars."""

from __future__ import annotations

import pytest
from distill_secrets import AZURE_SECRET, SECRET
from support.openai_server import FakeOpenAIServer

LLM_VARS = ("OPENAI_API_KEY", "OPENAI_BASE_URL", "AZURE_OPENAI_API_KEY", "AZURE_OPENAI_ENDPOINT",
            "AZURE_OPENAI_API_VERSION", "OPENAI_API_VERSION")


@pytest.fixture(autouse=True)
def _no_llm_env(monkeypatch):
    for var in LLM_VARS:
        monkeypatch.delenv(var, raising=False)


@pytest.fixture
def fake_openai(monkeypatch):
    """A started server; OPENAI_API_KEY / OPENAI_BASE_URL point at it."""
    srv = FakeOpenAIServer().start()
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    monkeypatch.setenv("OPENAI_BASE_URL", srv.base_url)
    yield srv
    srv.stop()


@pytest.fixture
def fake_azure(monkeypatch):
    """A started server; the AZURE_OPENAI_* variables point at it."""
    srv = FakeOpenAIServer().start()
    monkeypatch.setenv("AZURE_OPENAI_API_KEY", AZURE_SECRET)
    monkeypatch.setenv("AZURE_OPENAI_ENDPOINT", srv.azure_endpoint)
    monkeypatch.setenv("AZURE_OPENAI_API_VERSION", "2024-06-01")
    yield srv
    srv.stop()
