"""faalgrad.runs.cache: off by default, atomic, keyed by repr and the code fingerprint, each entry
computed once by processes sharing the directory."""

import multiprocessing
import os
import time

import pytest

from faalgrad.runs import RunSpec, cache


def test_off_without_environment(monkeypatch, tmp_path):
    monkeypatch.delenv(cache.ENV, raising=False)
    calls = []
    assert cache.memoize("k", lambda: calls.append(1) or 5) == 5
    assert cache.memoize("k", lambda: calls.append(1) or 5) == 5
    assert len(calls) == 2
    assert cache.directory() is None


def test_stores_and_reads_back(monkeypatch, tmp_path):
    monkeypatch.setenv(cache.ENV, str(tmp_path / "c"))
    calls = []
    first = cache.memoize(("run", 1), lambda: calls.append(1) or {"a": [1, 2]})
    second = cache.memoize(("run", 1), lambda: calls.append(1) or {"a": "other"})
    assert first == second == {"a": [1, 2]}
    assert len(calls) == 1
    assert cache.memoize(("run", 2), lambda: 7) == 7  # another key is computed
    assert len(list((tmp_path / "c").glob("*.pkl"))) == 2
    assert not list((tmp_path / "c").glob("*.tmp"))


def test_damaged_entry_is_recomputed(monkeypatch, tmp_path):
    monkeypatch.setenv(cache.ENV, str(tmp_path))
    cache.memoize("k", lambda: 1)
    cache.key_path(tmp_path, "k").write_bytes(b"not a pickle")
    assert cache.memoize("k", lambda: 2) == 2
    assert cache.memoize("k", lambda: 3) == 2


def test_failed_compute_stores_nothing(monkeypatch, tmp_path):
    monkeypatch.setenv(cache.ENV, str(tmp_path))
    with pytest.raises(RuntimeError):
        cache.memoize("k", lambda: (_ for _ in ()).throw(RuntimeError("boom")))
    assert not list(tmp_path.glob("*.pkl")) and not list(tmp_path.glob("*.tmp"))
    assert cache.memoize("k", lambda: 4) == 4  # the lock was released


def test_key_depends_on_value_and_fingerprint(tmp_path, monkeypatch):
    a = cache.key_path(tmp_path, RunSpec("german", "erm", seed=0))
    assert a == cache.key_path(tmp_path, RunSpec("german", "erm", seed=0))
    assert a != cache.key_path(tmp_path, RunSpec("german", "erm", seed=1))
    monkeypatch.setattr(cache, "fingerprint", lambda: "other code")
    assert a != cache.key_path(tmp_path, RunSpec("german", "erm", seed=0))


def test_run_rows_identical_with_and_without_cache(monkeypatch, tmp_path):
    from faalgrad.runs import run

    spec = RunSpec("german", "faalgrad", seed=1, overrides={"max_epochs": 3})
    monkeypatch.delenv(cache.ENV, raising=False)
    plain = run(spec)
    monkeypatch.setenv(cache.ENV, str(tmp_path))
    stored = run(spec)
    again = run(spec)
    assert list(tmp_path.glob("*.pkl"))
    assert plain.keys() == stored.keys() == again.keys()
    for k in plain:
        assert str(plain[k]) == str(stored[k]) == str(again[k]), k


def _ask(root, log, value, results):
    """In a child process: memoize a slow computation that logs each time it runs."""

    def compute():
        with open(log, "a") as f:
            f.write(f"computed {value}\n")
        time.sleep(1.0)
        return value

    os.environ[cache.ENV] = str(root)
    results.put(cache.memoize("shared", compute))


def test_a_process_waits_for_the_entry_another_is_computing(tmp_path):
    context = multiprocessing.get_context("fork")
    results, log = context.Queue(), tmp_path / "log"
    first = context.Process(target=_ask, args=(tmp_path / "c", log, 1, results))
    first.start()
    deadline = time.monotonic() + 30
    while not log.exists() and time.monotonic() < deadline:  # the first is inside compute()
        time.sleep(0.01)
    second = context.Process(target=_ask, args=(tmp_path / "c", log, 2, results))
    second.start()
    values = [results.get(timeout=60), results.get(timeout=60)]
    first.join(), second.join()
    assert values == [1, 1]
    assert log.read_text() == "computed 1\n"
