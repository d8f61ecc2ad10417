"""Test doubles shared across test packages (boundaries we cannot reach from CI)."""
