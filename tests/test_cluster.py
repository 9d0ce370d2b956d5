"""Scoring on a Dask cluster (issue 16): real LocalClusters with worker processes, real files,
the real CLI; results compared with single-machine ``moderation score`` run in the same test
(whatever the current model is)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import sys
import threading
import time
from pathlib import Path

import pytest

pytest.importorskip("distributed")
pa = pytest.importorskip("pyarrow")
import pandas as pd  # noqa: E402
import pyarrow.parquet as pq  # noqa: E402
from click.testing import CliRunner  # noqa: E402
from conftest import FIXTURES, ROOT, SEED, run_cli  # noqa: E402
from distributed import Client, LocalCluster  # noqa: E402

from moderation.apps.cli import cli  # noqa: E402
from moderation.cluster import (  # noqa: E402
    SUCCESS,
    ModelSpec,
    check_workers,
    plan_pieces,
    read_output,
    score_dask,
    score_to_directory,
    tune_malloc,
)
from moderation.core import ModelError  # noqa: E402
from moderation.moderator import Moderator, default_model_path  # noqa: E402

AUTHORED = [json.loads(line) for line in (ROOT / "labels" / "authored.jsonl").read_text(encoding="utf-8").splitlines()]
SCORES = ("slur", "off_topic", "delete")


def _comment_rows(n: int, prefix: str, *, ids: bool = True) -> list[dict]:
    """n comments with their thread title (texts from the authored labels, varied so they differ)."""
    rows = []
    for i in range(n):
        src = AUTHORED[i % len(AUTHORED)]
        row = {"text": f"{src['text']} ({i // len(AUTHORED)})", "thread_title": src.get("thread_title") or ""}
        if ids:
            row = {"id": f"{prefix}-{i:05d}", **row, "n": i}
        rows.append(row)
    return rows


def _write_jsonl(path: Path, rows: list[dict]) -> None:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")


def _inputs(root: Path) -> Path:
    """A directory of mixed inputs: thread dumps (one thread in two files), a JSONL with ids
    large enough to be cut into line ranges, one without ids, a Parquet file of several row
    groups, and a CSV."""
    data = root / "in"
    (data / "dumps").mkdir(parents=True)
    shutil.copy(SEED, data / "dumps" / SEED.name)
    for name in ("newsplus_1754021234.dat", "newsplus_1754021234.sjis.dat", "livejupiter_1754030001.dat"):
        shutil.copy(FIXTURES / "dat" / name, data / "dumps" / name)
    shutil.copy(FIXTURES / "scrape" / "economy_yen.txt", data / "dumps" / "economy_yen.txt")
    _write_jsonl(data / "big.jsonl", _comment_rows(700, "big"))
    _write_jsonl(data / "noids.jsonl", _comment_rows(60, "x", ids=False))
    pq.write_table(pa.Table.from_pylist(_comment_rows(400, "pq")), data / "day.parquet", row_group_size=80)
    pd.DataFrame(_comment_rows(50, "csv")).to_csv(data / "comments.csv", index=False)
    return data


def _run(*args: str):
    """The real CLI in this process (click's runner): cheaper than a subprocess per command."""
    return CliRunner().invoke(cli, list(args))


def _single_machine(paths: list[str], *extra: str) -> list[dict]:
    res = _run("score", *paths, "--format", "jsonl", "--jobs", "1", *extra)
    assert res.exit_code == 0, res.stderr
    return [json.loads(line) for line in res.stdout.splitlines()]


def _by_key(rows) -> dict:
    keyed: dict = {}
    for row in rows:
        key = (row["source"], row["id"])
        assert key not in keyed, f"row {key} twice"
        keyed[key] = row
    return keyed


def _assert_same(cluster_rows: list[dict], single_rows: list[dict], *, context: bool = False) -> None:
    cluster, single = _by_key(cluster_rows), _by_key(single_rows)
    assert len(cluster_rows) == len(single_rows)
    assert cluster.keys() == single.keys()
    for key, want in single.items():
        got = cluster[key]
        for label in SCORES:
            assert got[label] == pytest.approx(want[label], abs=1e-9), (key, label)
        assert got["action"] == want["action"], key
        assert list(got["labels"]) == want["labels"], key
        assert (got["text"], got["thread"], got["kind"]) == (want["text"], want["thread"], want["kind"])
        if context:
            assert got["context"] == want["context"], key


@pytest.fixture(scope="module")
def client():
    """A real LocalCluster: 2 worker processes (each with a nanny that restarts it)."""
    with (
        LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster,
        Client(cluster) as client,
    ):
        yield client


# --------------------------------------------------------------------------- the CLI on the cluster


def test_cluster_scores_every_row_once_as_single_machine(client, tmp_path):
    """`moderation score --cluster tcp://…` (an existing cluster's scheduler) against
    single-machine `moderation score` on a multi-file input."""
    data = _inputs(tmp_path)
    pieces = plan_pieces([data], partition_size=100)
    kinds = {p.kind for p in pieces}
    assert {"files", "jsonl", "parquet"} <= kinds, kinds  # dumps whole, JSONL line ranges, Parquet row groups
    dump_pieces = [p for p in pieces if any("newsplus_1754021234" in f for f, _ in p.files)]
    assert len(dump_pieces) == 1  # one thread in two files: one partition

    out = tmp_path / "out"
    res = run_cli(
        "score",
        str(data),
        "--cluster",
        client.scheduler.address,
        "--partition-size",
        "100",
        "--with-context",
        "--out",
        str(out),
    )
    assert res.returncode == 0, res.stderr
    assert "scored" in res.stderr.splitlines()[-1]
    summary = json.loads((out / SUCCESS).read_text(encoding="utf-8"))
    assert summary["partitions"] == len(pieces) and summary["workers"] == 2
    assert sorted(p.name for p in out.glob("part-*.parquet")) == summary["files"]

    frame = read_output(out)
    rows = [
        {k: (None if isinstance(v, float) and v != v else v) for k, v in r.items()} for r in frame.to_dict("records")
    ]
    single = _single_machine([str(data)], "--with-context")
    _assert_same(rows, single, context=True)
    counts = {a: sum(r["action"] == a for r in single) for a in ("allow", "hold", "reject")}
    assert summary["rows"] == len(single) and summary["actions"] == counts


def test_bad_model_fails_in_one_line_before_any_output(tmp_path):
    data = _inputs(tmp_path)
    out = tmp_path / "out"
    res = _run("score", str(data), "--cluster", "local:1", "--model", str(tmp_path / "nomodel"), "--out", str(out))
    assert res.exit_code == 1
    assert res.stderr.strip().count("\n") == 0, res.stderr
    assert isinstance(res.exception, SystemExit)  # click's exit, not an error's traceback
    assert "nomodel" in res.stderr
    assert not out.exists()


# --------------------------------------------------------------------------- the Python API


def test_worker_without_the_model_or_with_another_fails_before_output(client, tmp_path):
    data = tmp_path / "c.jsonl"
    _write_jsonl(data, _comment_rows(20, "c"))
    real = ModelSpec.resolve(None)
    out = tmp_path / "out"
    for spec, says in (
        (ModelSpec(str(tmp_path / "elsewhere"), real.sha256), "cannot read the model on worker"),
        (ModelSpec(real.path, "0" * 64), "differs from the client's"),
    ):
        with pytest.raises(ModelError) as err:
            score_to_directory([data], out, client=client, model=spec)
        message = str(err.value)
        assert says in message and message.startswith("worker tcp://") and "\n" not in message
        assert not out.exists()


def test_score_dask_is_moderator_score(client):
    import dask.dataframe as dd

    rows = _comment_rows(90, "d")
    frame = pd.DataFrame(rows)
    got = score_dask(dd.from_pandas(frame, npartitions=3)).compute()
    want = Moderator.load(default_model_path()).score(frame)
    assert got["id"].tolist() == want["id"].tolist()
    for label in SCORES:
        assert got[label].to_numpy() == pytest.approx(want[label].to_numpy(), abs=1e-9)
    assert got["action"].tolist() == want["action"].tolist()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc")
def test_workers_undo_the_nannys_malloc_setting(client):
    """A nanny starts its worker with MALLOC_TRIM_THRESHOLD_ set, which made every large array a
    fresh mmap (scoring cost ~1.7x the CPU); a worker that loads the model sets glibc's thresholds
    back (tune_malloc). This process has no nanny: nothing is changed here."""
    spec = ModelSpec.resolve(None)
    check_workers(client, spec)
    assert set(client.run(tune_malloc).values()) == {True}
    assert "MALLOC_TRIM_THRESHOLD_" in os.environ or tune_malloc() is False


def test_rerun_after_a_crash_writes_no_row_twice(client, tmp_path):
    data = tmp_path / "in"
    data.mkdir()
    for k in range(3):
        _write_jsonl(data / f"c{k}.jsonl", _comment_rows(40, f"c{k}"))
    out = tmp_path / "out"
    out.mkdir()
    (out / "part-00042.parquet").write_bytes(b"left by a crashed run")  # a partition of an older plan
    first = score_to_directory([data], out, client=client, partition_size=40, fmt="jsonl")
    second = score_to_directory([data], out, client=client, partition_size=80, fmt="jsonl")
    assert first.rows == second.rows == 120
    assert sorted(p.name for p in out.iterdir()) == sorted([*second.files, SUCCESS])
    rows = read_output(out).to_dict("records")
    assert len(rows) == 120 and len(_by_key(rows)) == 120


def test_a_worker_killed_mid_run_loses_and_duplicates_nothing(client, tmp_path):
    data = tmp_path / "in"
    data.mkdir()
    for k in range(4):
        _write_jsonl(data / f"c{k}.jsonl", _comment_rows(300, f"c{k}"))
    out = tmp_path / "out"
    pids = client.run(os.getpid)
    killed: dict = {}

    def kill_one_when_started():
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if list(out.glob("part-*.jsonl")):
                killed["done_before"] = (out / SUCCESS).exists()
                address, pid = sorted(pids.items())[0]
                os.kill(pid, signal.SIGKILL)
                killed["address"] = address
                return
            time.sleep(0.02)

    killer = threading.Thread(target=kill_one_when_started)
    killer.start()
    result = score_to_directory([data], out, client=client, partition_size=50, fmt="jsonl", retries=1)
    killer.join()
    assert killed and killed["done_before"] is False  # killed while the job ran
    assert result.rows == 1200
    assert sorted(p.name for p in out.iterdir()) == sorted([*result.files, SUCCESS])  # no half-written file left
    rows = read_output(out).to_dict("records")
    assert len(rows) == 1200
    assert {r["id"] for r in rows} == {f"c{k}-{i:05d}" for k in range(4) for i in range(300)}
    assert len(_by_key(rows)) == 1200


# --------------------------------------------------------------------------- Parquet on one machine


def test_parquet_in_and_out_on_one_machine(tmp_path):
    posts = tmp_path / "posts.parquet"
    res = _run("extract", str(SEED), "--format", "parquet", "--out", str(posts))
    assert res.exit_code == 0, res.stderr
    as_jsonl = _run("extract", str(SEED), "--format", "jsonl")
    want = [json.loads(line) for line in as_jsonl.stdout.splitlines()]
    assert pq.read_table(posts).to_pylist() == want

    comments = tmp_path / "comments"
    comments.mkdir()
    rows = _comment_rows(30, "p")
    _write_jsonl(comments / "c.jsonl", rows)
    pq.write_table(pa.Table.from_pylist(rows), comments / "c.parquet", row_group_size=7)
    scored = tmp_path / "scored.parquet"
    res = _run("score", str(comments / "c.parquet"), "--format", "parquet", "--out", str(scored), "--explain")
    assert res.exit_code == 0, res.stderr
    from_parquet = pq.read_table(scored).to_pylist()
    from_jsonl = _single_machine([str(comments / "c.jsonl")], "--explain")
    assert [r["id"] for r in from_parquet] == [r["id"] for r in from_jsonl]
    for a, b in zip(from_parquet, from_jsonl):
        assert {k: a[k] for k in (*SCORES, "action", "labels", "text", "n", "reasons")} == {
            k: b[k] for k in (*SCORES, "action", "labels", "text", "n", "reasons")
        }

    res = _run("score", str(comments / "c.parquet"), "--format", "parquet")
    assert res.exit_code == 2 and "--format parquet needs --out" in res.stderr
    bad = tmp_path / "bad.parquet"
    bad.write_bytes(b"PAR1 not really")
    res = run_cli("score", str(bad), "--format", "jsonl")  # a real process: the one-line message, exit 1
    assert res.returncode == 1 and "not a readable Parquet file" in res.stderr and "Traceback" not in res.stderr


def test_the_planner_says_which_dump_it_left_out_over_the_size_limit(tmp_path, capsys):
    """Without a cluster: the planner runs on the client, and a dump inside a directory over
    --max-file-size is left out with a warning on stderr (it was left out silently)."""
    from moderation.io.inputs import set_max_file_size

    dumps = tmp_path / "dumps"
    dumps.mkdir()
    (dumps / "a.txt").write_text("本文です。\n", encoding="utf-8")
    (dumps / "big.jsonl").write_text('{"id": "1", "text": "長い"}\n' * 100, encoding="utf-8")
    set_max_file_size("1K")
    try:
        pieces = plan_pieces([dumps])
    finally:
        set_max_file_size(None)
    assert all("big.jsonl" not in str(p.files) for p in pieces)
    err = capsys.readouterr().err
    assert "big.jsonl" in err and err.startswith("warning: ") and "--max-file-size" in err
