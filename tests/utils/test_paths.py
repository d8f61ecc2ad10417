import sys
from pathlib import Path

import pytest

from skillrl.utils import paths


def test_explicit_missing_dir_names_it_and_hints_download(tmp_path):
    missing = tmp_path / "nope"
    with pytest.raises(paths.DataNotFoundError) as err:
        paths.resolve_data_dir("alfworld", missing)
    assert str(missing) in str(err.value)
    assert "alfworld-download" in str(err.value)


def test_env_var_wins_over_defaults(tmp_path, monkeypatch):
    monkeypatch.setenv("WEBSHOP_DATA", str(tmp_path))
    assert paths.resolve_data_dir("webshop") == tmp_path


def test_skillrl_data_root(tmp_path, monkeypatch):
    (tmp_path / "search").mkdir()
    monkeypatch.delenv("SEARCH_DATA", raising=False)
    monkeypatch.setenv("SKILLRL_DATA", str(tmp_path))
    assert paths.resolve_data_dir("search") == tmp_path / "search"


def test_nothing_found_lists_candidates(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("SKILLRL_DATA", raising=False)
    monkeypatch.setattr(paths, "_PROJECT_ROOT", tmp_path / "proj")
    with pytest.raises(paths.DataNotFoundError) as err:
        paths.resolve_data_dir("nosuchenv")
    assert "looked in" in str(err.value)


def test_shared_data_is_found_from_checkout():
    # CI runs a clean clone with ../shared beside it.
    found = paths.resolve_data_dir("alfworld")
    assert (found / "json_2.1.1").is_dir()


def test_cache_dir_is_created(tmp_path, monkeypatch):
    monkeypatch.setenv("SKILLRL_CACHE", str(tmp_path / "c"))
    d = paths.cache_dir("index", "bm25")
    assert d.is_dir() and d == Path(tmp_path / "c" / "index" / "bm25")


def test_cache_dir_defaults_to_the_platform_cache(tmp_path, monkeypatch):
    monkeypatch.delenv("SKILLRL_CACHE", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    d = paths.cache_dir("search_index")
    assert d.is_dir()
    if sys.platform.startswith("linux"):
        assert d == tmp_path / "xdg" / "skillrl" / "search_index"
    else:  # macOS / Windows: the per-user cache folder of the platform
        assert "skillrl" in d.parts and d.name == "search_index"
    monkeypatch.setenv("SKILLRL_CACHE", "")  # set but empty: as if unset, never the working directory
    assert paths.cache_dir("search_index") == d
    monkeypatch.setenv("SKILLRL_CACHE", str(tmp_path / "mine"))  # the variable wins
    assert paths.cache_dir("search_index") == tmp_path / "mine" / "search_index"
