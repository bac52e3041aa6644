"""The multiprocess folder `serve` hands its workers, and the exposition format."""

from __future__ import annotations

from pathlib import Path

import pytest

from licentia.api import metrics


def test_serve_environment_empties_the_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(metrics.MULTIPROC_ENV, raising=False)
    assert metrics.serve_environment(tmp_path, 8080, enabled=False) == {}
    folder = tmp_path / "prometheus" / "8080"
    folder.mkdir(parents=True)
    (folder / "counter_123.db").write_bytes(b"stale")
    (folder / "junk").mkdir()
    env = metrics.serve_environment(tmp_path, 8080, enabled=True)
    assert env == {metrics.MULTIPROC_ENV: str(folder.resolve())}
    assert list(folder.iterdir()) == []
    created = Path(metrics.serve_environment(tmp_path, 8081, enabled=True)[metrics.MULTIPROC_ENV])
    assert created == (tmp_path / "prometheus" / "8081").resolve()
    assert oct(created.stat().st_mode & 0o777) == "0o700"
    # The operator's own folder wins (and is emptied too).
    own = tmp_path / "own"
    own.mkdir()
    (own / "gauge_livesum_1.db").write_bytes(b"stale")
    monkeypatch.setenv(metrics.MULTIPROC_ENV, str(own))
    assert metrics.serve_environment(tmp_path, 8080, enabled=True) == {
        metrics.MULTIPROC_ENV: str(own)
    }
    assert list(own.iterdir()) == []


def test_unwritable_folder_falls_back_to_a_fresh_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    monkeypatch.setenv(metrics.MULTIPROC_ENV, str(blocker / "sub"))
    env = metrics.serve_environment(tmp_path, 9000, enabled=True)
    chosen = Path(env[metrics.MULTIPROC_ENV])
    assert chosen.is_dir() and chosen.name.startswith("licentia-metrics-9000-")
    assert list(chosen.iterdir()) == []
    chosen.rmdir()


def test_exposition_keeps_the_label_order_and_integers() -> None:
    m = metrics.Metrics()
    m.observe("client", "init", 200, 0.02)
    m.observe("client", "init", 200, 20.0)
    text = m.render().decode()
    assert 'licentia_http_requests_total{face="client",endpoint="init",status="200"} 2\n' in text
    lines = [line for line in text.splitlines() if "duration_seconds_bucket" in line]
    assert lines[0].endswith('le="0.005"} 0') and lines[-1].endswith('le="+Inf"} 2')
    assert 'licentia_http_request_duration_seconds_count{face="client",endpoint="init"} 2' in text
    assert "_created" not in text
    assert "\nlicentia_workers 1\n" in text
