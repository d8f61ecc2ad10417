"""Small helpers shared by every layer (standard library and ``platformdirs`` only)."""
