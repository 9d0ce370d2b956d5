"""Nothing overwritten, nothing exhausting, nothing misleading (issue 13): an ``--out`` that is
one of the inputs is refused; only regular files are read (FIFOs, devices and sockets are
refused without blocking), within a size limit; every user mistake is a one-line error naming
its real cause, never ``internal error``. Real files, the real CLI (in process through
:func:`moderation.apps.cli.main`, and as a subprocess where a user id or a hang matters)."""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import joblib
import pytest
from conftest import ROOT

from moderation.apps.cli import main

MODEL = ROOT / "models" / "default"
EXE = Path(sys.executable).with_name("moderation")
COMMAND = [str(EXE)] if EXE.exists() else [sys.executable, "-m", "moderation"]
TABLE = "text,slur\n下朝鮮は黙ってろ,1\nいい試合だった,0\n"
EVENT = '{"id": "a", "text": "いい試合だった", "labels": {"slur": 0}, "annotator": "m1"}\n'


def cli(capsys, *args: str) -> tuple[int, str, str]:
    """``moderation ARGS`` in this process, as the console script runs it: (status, stdout, stderr)."""
    try:
        main([str(a) for a in args])
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    out, err = capsys.readouterr()
    return code, out, err


def one_line_error(err: str) -> str:
    """The one ``Error:`` line of ``err`` (warnings aside), checked to be one line, no traceback."""
    assert "Traceback" not in err and "internal error" not in err, err
    errors = [line for line in err.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1, err
    return errors[0]


def _run(*args: str, timeout: float = 60, prefix: tuple[str, ...] | list[str] = ()) -> subprocess.CompletedProcess:
    return subprocess.run([*prefix, *COMMAND, *args], capture_output=True, text=True, timeout=timeout, cwd=ROOT)


@pytest.fixture
def files(tmp_path):
    (tmp_path / "t.csv").write_text(TABLE, encoding="utf-8")
    (tmp_path / "l.jsonl").write_text(EVENT, encoding="utf-8")
    (tmp_path / "dir").mkdir()
    (tmp_path / "dir" / "a.csv").write_text(TABLE, encoding="utf-8")
    return tmp_path


# --------------------------------------------------------------------------- --out over an input


@pytest.mark.parametrize(
    "make_args",
    [
        lambda d: ["score", d / "t.csv", "--out", d / "t.csv", "--format", "csv"],
        lambda d: ["score", d / "t.csv", "--out", d / "link.csv"],  # a symbolic link to the input
        lambda d: ["score", d / "t.csv", "--out", d / "hard.csv"],  # a hard link: the same inode
        lambda d: ["score", d / "dir", "--out", d / "dir" / "a.csv"],  # a file of an input directory
        lambda d: ["extract", d / "t.csv", "--out", d / "." / "t.csv"],
        lambda d: ["extract", d / "t.csv", "--out", d / "t.csv", "--format", "parquet"],
        lambda d: ["labels", "export", d / "l.jsonl", "--out", d / "l.jsonl"],
        lambda d: ["eval", d / "t.csv", "--plot", d / "t.csv"],
        lambda d: ["train", d / "dir", "--out", d / "dir"],
        lambda d: ["adapt", d / "t.csv", "--model", d / "model", "--out", d / "model"],
    ],
    ids=["score", "symlink", "hardlink", "in-input-dir", "extract", "parquet", "export", "eval-plot", "train", "adapt"],
)
def test_an_out_that_is_an_input_is_refused_and_nothing_is_written(capsys, files, make_args):
    (files / "link.csv").symlink_to(files / "t.csv")
    os.link(files / "t.csv", files / "hard.csv")
    shutil.copytree(MODEL, files / "model")
    before = {p: p.read_bytes() for p in files.rglob("*") if p.is_file()}
    code, _out, err = cli(capsys, *make_args(files))
    assert code == 1
    line = one_line_error(err)
    assert "refusing to overwrite an input" in line or "is the model being adapted" in line, line
    after = {p: p.read_bytes() for p in files.rglob("*") if p.is_file()}
    assert after == before  # nothing replaced, no temporary file left


def test_an_out_beside_the_inputs_is_written(capsys, files):
    code, _out, err = cli(capsys, "score", files / "dir", "--out", files / "dir" / "scores.jsonl")
    assert code == 0, err
    assert len((files / "dir" / "scores.jsonl").read_text().splitlines()) == 2


# --------------------------------------------------------------------------- only regular files


def _fifo(d: Path) -> Path:
    os.mkfifo(d / "pipe.jsonl")
    return d / "pipe.jsonl"


def _socket(d: Path) -> Path:
    path = d / "sock.jsonl"
    s = socket.socket(socket.AF_UNIX)
    s.bind(str(path))
    s.close()
    return path


CASES = [
    ("fifo", ["extract", "{x}"]),
    ("fifo", ["score", "{x}"]),
    ("fifo", ["train", "{x}", "--out", "{d}/m"]),
    ("fifo", ["eval", "{x}"]),
    ("fifo", ["labels", "stats", "{x}"]),
    ("fifo", ["labels", "export", "{x}"]),
    ("fifo", ["label", "{d}/t.csv", "--labels", "{x}", "--web", "--port", "0"]),
    ("fifo", ["adapt", "{x}", "--out", "{d}/m"]),
    ("fifo", ["serve", "--config", "{x}", "--port", "0"]),
    ("fifo", ["serve", "--token-file", "{x}", "--port", "0"]),
    ("device", ["extract", "{x}"]),
    ("device", ["score", "{x}"]),
    ("device", ["train", "{x}", "--out", "{d}/m"]),
    ("socket", ["eval", "{x}"]),
    ("socket", ["labels", "stats", "{x}"]),
]


@pytest.mark.parametrize(
    ("kind", "args"), CASES, ids=[f"{k}-{'-'.join(a for a in args[:2] if '{' not in a)}" for k, args in CASES]
)
def test_fifos_devices_and_sockets_are_refused_without_blocking(files, kind, args):
    target = {"fifo": _fifo, "socket": _socket, "device": lambda d: Path("/dev/zero")}[kind](files)
    # A subprocess with a deadline: reading a FIFO would block for ever, /dev/zero never end.
    res = _run(*(a.format(x=target, d=files) for a in args), timeout=120)
    assert res.returncode == 1, res.stderr
    assert "not a regular file; only regular files are read" in one_line_error(res.stderr)


def test_a_fifo_in_a_model_directory_is_refused_without_blocking(files):
    model = files / "model"
    shutil.copytree(MODEL, model)
    (model / "spm.model").unlink()
    os.mkfifo(model / "spm.model")
    res = _run("score", str(files / "t.csv"), "--model", str(model), timeout=120)
    assert res.returncode == 1
    assert "spm.model: not a regular file" in one_line_error(res.stderr)


def test_a_file_over_the_size_limit_is_refused_and_the_limit_can_be_raised(capsys, files, monkeypatch):
    big = files / "big.csv"
    big.write_text(TABLE + "いい話だ,0\n" * 300, encoding="utf-8")
    code, _out, err = cli(capsys, "score", big, "--max-file-size", "2K")
    assert code == 1
    line = one_line_error(err)
    assert "big.csv" in line and "over the 2 KiB an input file may have" in line and "--max-file-size" in line
    code, out, err = cli(capsys, "score", big, "--max-file-size", "64K")
    assert code == 0, err
    assert len(out.splitlines()) == 302
    monkeypatch.setenv("MODERATION_MAX_FILE_SIZE", "1K")
    code, _out, err = cli(capsys, "train", big, "--out", files / "m")
    assert code == 1 and "over the 1 KiB" in one_line_error(err)
    code, _out, err = cli(capsys, "labels", "stats", files / "l.jsonl", "--max-file-size", "10")
    assert code == 1 and "over the 10 bytes" in one_line_error(err)
    code, _out, err = cli(capsys, "score", big, "--max-file-size", "lots")
    assert code == 2 and "is not a size" in err


# --------------------------------------------------------------------------- errors that name the cause


def _as_another_user() -> list[str]:
    """The command prefix that runs as a user who cannot read a mode-000 file (root can)."""
    if os.geteuid() != 0:
        return []
    if not shutil.which("setpriv"):
        pytest.skip("running as root without setpriv (util-linux): no user to be denied a file")
    return ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]


@pytest.fixture
def unreadable():
    # pytest's tmp_path lies in a directory only its owner may enter: a world-reachable one here.
    import tempfile

    tmp_path = Path(tempfile.mkdtemp(prefix="moderation-perm-"))
    tmp_path.chmod(0o777)
    (tmp_path / "data").mkdir(mode=0o777)
    for name in ("data/a.csv", "data/b.csv", "c.csv"):
        (tmp_path / name).write_text(TABLE, encoding="utf-8")
        (tmp_path / name).chmod(0o644)
    (tmp_path / "data").chmod(0o777)
    (tmp_path / "data" / "b.csv").chmod(0)
    (tmp_path / "c.csv").chmod(0)
    yield tmp_path
    shutil.rmtree(tmp_path, ignore_errors=True)


def test_an_unreadable_input_is_named_as_an_input(unreadable):
    res = _run("train", str(unreadable / "data"), "--out", str(unreadable / "m"), prefix=_as_another_user())
    line = one_line_error(res.stderr)
    assert res.returncode == 1
    assert "data/b.csv: cannot read (Permission denied)" in line and "cannot write" not in line
    for args in (["eval", unreadable / "data"], ["eval", unreadable / "c.csv"], ["score", unreadable / "c.csv"]):
        res = _run(*map(str, args), prefix=_as_another_user())
        assert res.returncode in (1, 2)
        assert "Permission denied" in one_line_error(res.stderr) or "is not readable" in res.stderr


def test_an_unwritable_out_is_named_as_the_output(unreadable):
    (unreadable / "ro").mkdir(mode=0o555)
    for args, said in (
        (["eval", unreadable / "data" / "a.csv", "--plot", unreadable / "ro" / "pr.png"], "cannot write the plot"),
        (["score", unreadable / "data" / "a.csv", "--out", unreadable / "ro" / "s.jsonl"], "cannot write"),
    ):
        res = _run(*map(str, args), prefix=_as_another_user())
        assert res.returncode == 1
        line = one_line_error(res.stderr)
        assert said in line and "Permission denied" in line and "/ro/" in line


def _tampered(d: Path, obj, name: str = "classifiers.joblib") -> Path:
    """The default model with ``name`` replaced by ``obj`` and the manifest's sha256 updated to
    match: what an operator gets from a bad copy or another version's file."""
    shutil.copytree(MODEL, d)
    buf = io.BytesIO()
    joblib.dump(obj, buf)
    (d / name).write_bytes(buf.getvalue())
    manifest = json.loads((d / "manifest.json").read_text())
    manifest["artifacts"][name] = hashlib.sha256(buf.getvalue()).hexdigest()
    (d / "manifest.json").write_text(json.dumps(manifest))
    return d


@pytest.mark.parametrize(
    "obj",
    [
        [1, 2],
        {"labels": ["slur"], "label_models": {"slur": "x"}, "skipped": {}, "params": {}},
        {"labels": ["slur"], "label_models": [1], "skipped": {}, "params": {}},
        {"labels": ["slur"], "label_models": {}, "skipped": {}, "params": None},
    ],
    ids=["list", "str-model", "list-models", "no-params"],
)
def test_a_bad_classifiers_joblib_is_a_model_error(capsys, files, obj):
    model = _tampered(files / "model", obj)
    code, _out, err = cli(capsys, "score", files / "t.csv", "--model", model)
    assert code == 1
    line = one_line_error(err)
    assert "cannot load the model" in line and "retrain it" in line


def test_eval_on_data_labelling_one_label_prints_its_metrics(capsys, files):
    code, out, err = cli(capsys, "eval", files / "t.csv")
    assert code == 0, err
    assert "no labelled examples" in out and "slur" in out


BAD_INPUTS = {
    "array.json": b"[1, 2, 3]\n",
    "string.json": b'"text"\n',
    "numbers.jsonl": b"1\n2\n",
    "text-not-string.jsonl": b'{"text": 5}\n{"text": null}\n',
    "bad-label.jsonl": b'{"text": "a", "slur": "x"}\n',
    "empty.jsonl": b"",
    "empty.txt": b"",
    "header-only.csv": b"text\n",
    "unterminated.csv": b'text,slur\n"never closed,1\n',
    "binary.dat": bytes(range(256)) * 40,
    "utf32.txt": "本文".encode("utf-32"),
    "nul-tail.jsonl": EVENT.encode() + b"\x00" * 4096,
    "random.jsonl": __import__("random").Random(13).randbytes(20_000),
}


def test_random_bytes_are_not_taken_for_a_label_file(capsys, tmp_path):
    path = tmp_path / "random.jsonl"
    path.write_bytes(BAD_INPUTS["random.jsonl"])
    for args in (["labels", "stats", path], ["labels", "adjudicate", path, "--web", "--port", "0"]):
        code, _out, err = cli(capsys, *args)
        assert code == 1 and "looks like a binary file, not a label file" in one_line_error(err)


@pytest.mark.parametrize("name", sorted(BAD_INPUTS))
def test_no_user_mistake_is_an_internal_error(capsys, tmp_path, name):
    path = tmp_path / name
    path.write_bytes(BAD_INPUTS[name])
    (tmp_path / "a.jsonl.d").mkdir()
    for args in (
        ["extract", path],
        ["score", path, "--jobs", "1"],
        ["train", path, "--out", tmp_path / "m"],
        ["eval", path],
        ["labels", "stats", path],
        ["labels", "export", path],
    ):
        code, _out, err = cli(capsys, *args)
        assert "internal error" not in err and "Traceback" not in err, (args, err)
        if code:
            one_line_error(err)


# --------------------------------------------------------------------------- what is left behind


def test_out_files_get_the_mode_open_would_give_them(files):
    for umask, mode in ((0o022, 0o644), (0o077, 0o600), (0o002, 0o664)):
        out = files / f"out-{umask:o}.jsonl"
        res = subprocess.run(
            [*COMMAND, "extract", str(files / "t.csv"), "--out", str(out)],
            capture_output=True,
            text=True,
            timeout=120,
            umask=umask,
        )
        assert res.returncode == 0, res.stderr
        assert out.stat().st_mode & 0o777 == mode, (oct(umask), oct(out.stat().st_mode))
    kept = files / "kept.csv"
    kept.write_text("old")
    kept.chmod(0o640)  # a file that is replaced keeps its mode
    code = _run("score", str(files / "t.csv"), "--out", str(kept), "--format", "csv").returncode
    assert code == 0 and kept.stat().st_mode & 0o777 == 0o640 and kept.read_text().startswith("id,")


def test_sigterm_while_writing_leaves_no_hidden_temporary_file(files):
    big = files / "big.csv"
    with big.open("w", encoding="utf-8") as fh:
        fh.write("id,text\n")
        for i in range(400_000):
            fh.write(f"{i},スレ{i}の書き込みです。いい試合だった\n")
    out = files / "out" / "posts.jsonl"
    out.parent.mkdir()
    proc = subprocess.Popen([*COMMAND, "extract", str(big), "--out", str(out)], stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        while not list(out.parent.glob(".posts.jsonl.*.tmp")) and time.monotonic() < deadline:
            assert proc.poll() is None, proc.stderr.read()
            time.sleep(0.02)
        assert list(out.parent.glob(".posts.jsonl.*.tmp")), "the output was never started"
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(60) == 128 + signal.SIGTERM
    finally:
        if proc.poll() is None:
            proc.kill()
    assert list(out.parent.iterdir()) == []  # no hidden .tmp file, no half-written output


def test_a_fifo_where_a_label_file_was_fails_at_once_instead_of_blocking(files):
    import threading

    from moderation.labels import append_events, label_event

    fifo = _fifo(files)
    outcome: list[BaseException | None] = []

    def append() -> None:
        try:
            append_events(fifo, [label_event("c1", "text", {"slur": 1}, annotator="m1")])
            outcome.append(None)
        except OSError as exc:
            outcome.append(exc)

    writer = threading.Thread(target=append, daemon=True)  # a blocked open would hang here for ever
    writer.start()
    writer.join(10)
    assert not writer.is_alive() and isinstance(outcome[0], OSError)
    res = _run("serve", "--feedback", str(fifo), "--port", "0", timeout=120)
    assert res.returncode == 1
    assert "the feedback file is a FIFO or a socket, not a regular file" in one_line_error(res.stderr)


def test_standard_input_is_read_as_a_file_within_the_limit(files):
    res = subprocess.run(
        [*COMMAND, "score", "-", "--input-format", "csv", "--format", "jsonl"],
        input=TABLE,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert res.returncode == 0, res.stderr
    rows = [json.loads(line) for line in res.stdout.splitlines()]
    assert [r["text"] for r in rows] == ["下朝鮮は黙ってろ", "いい試合だった"] and rows[0]["source"] == "-"
    res = subprocess.run(
        [*COMMAND, "extract", "-", "--max-file-size", "16"], input=TABLE, capture_output=True, text=True, timeout=120
    )
    assert res.returncode == 1 and "standard input: " in one_line_error(res.stderr)


def test_an_out_that_is_a_link_is_written_through_and_a_device_or_fifo_is_refused(capsys, files):
    (files / "real.jsonl").write_text("old\n")
    (files / "link.jsonl").symlink_to(files / "real.jsonl")
    code, _out, err = cli(capsys, "extract", files / "t.csv", "--out", files / "link.jsonl")
    assert code == 0, err
    assert (files / "link.jsonl").is_symlink() and len((files / "real.jsonl").read_text().splitlines()) == 2
    fifo = _fifo(files)
    code, _out, err = cli(capsys, "score", files / "t.csv", "--out", fifo)
    assert code == 1 and "cannot write (not a regular file" in one_line_error(err)
    assert fifo.is_fifo()  # not replaced by a file (as root, an --out /dev/null was)
