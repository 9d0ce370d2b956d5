"""`moderation labels queue` and `moderation labels import`: labeling in another tool.

- the queue is the labeling tool's own order (sequential, random with a seed, uncertain with the
  model), with context and the model's scores;
- the CSV is safe in a spreadsheet (BOM, no formula, no raw control or bidi character) and still
  gives the import every character exactly (the ``exact`` and ``check`` columns);
- a spreadsheet round trip (UTF-8 or CP932) and a Label Studio JSON export read as is become the
  same label events the tool writes; bad rows are named by line and skipped, the rest appended
  in one write; importing twice adds nothing.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import SEED

from moderation.apps.cli import cli
from moderation.apps.labeling.items import collect_items
from moderation.apps.labeling.session import Session
from moderation.core import LABELS
from moderation.io import extract
from moderation.labels.events import read_events, read_label_files
from moderation.labels.export import export_rows

HOSTILE = {
    "formula": '=HYPERLINK("http://evil.example","クリック")',
    "plus": "+81 90 1234 5678 に電話して",
    "at": "@SUM(1+1)*cmd|' /C calc'!A0",
    "quote": "'=1+1 はじめから引用符",
    "osc": "\x1b]0;title\x07\x1b[2J消えろ",
    "bidi": "普通の文\u202eevil\u202c",
    "zwsp": "見え\u200bない",
    "minus": "-1 点",
}


def invoke(*args: str):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def write_comments(path: Path, texts: dict[str, str], title: str = "スレタイ") -> Path:
    rows = [
        {"id": cid, "thread": "t", "no": n, "text": text, "thread_title": title}
        for n, (cid, text) in enumerate(texts.items(), start=1)
    ]
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path


def read_csv(path: Path, encoding: str = "utf-8-sig") -> list[dict]:
    with open(path, encoding=encoding, newline="") as fh:
        return list(csv.DictReader(fh))


def write_csv(path: Path, rows: list[dict], encoding: str = "utf-8") -> Path:
    with open(path, "w", encoding=encoding, newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


@pytest.fixture(scope="module")
def seed_items():
    return collect_items(extract([SEED]))


def test_the_queue_is_the_order_the_labeling_tool_offers(tmp_path, seed_items):
    from moderation.apps.labeling.model_view import ModelView
    from moderation.moderator import Moderator

    model = ModelView(Moderator.load(), seed_items)
    for order, extra in (("sequential", []), ("random", ["--seed", "7"]), ("uncertain", [])):
        out = tmp_path / f"{order}.jsonl"
        res = invoke("labels", "queue", str(SEED), "--order", order, *extra, "--out", str(out))
        assert res.exit_code == 0, res.output
        rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
        session = Session(
            seed_items,
            tmp_path / "unused.jsonl",
            "m1",
            order=order,
            seed=7 if order == "random" else None,
            model=model if order == "uncertain" else None,
        )
        assert [r["id"] for r in rows] == [seed_items[i].id for i in session.queue], order
        assert [r["rank"] for r in rows] == list(range(1, len(rows) + 1))
    # With a model: its scores, action and flags; context and replies as the tool shows them; --limit.
    out = tmp_path / "scored.jsonl"
    res = invoke("labels", "queue", str(SEED), "--model", "models/default", "--limit", "4", "--out", str(out))
    assert res.exit_code == 0 and "wrote 4 of 12 comments" in res.stderr
    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert len(rows) == 4
    for row in rows:
        i = model.items.index(next(it for it in seed_items if it.id == row["id"]))
        assert row["model_action"] == model.actions[i] and row["model_flagged"] == list(model.flagged[i])
        assert abs(row["model_slur"] - model.scores(i)["slur"]) < 1e-4
        assert row["thread_text"] == seed_items[i].thread_text and row["thread_title"].startswith("「在韓米軍")
        assert all(row[label] is None for label in LABELS) and row["note"] is None
    assert rows[1]["reply_to"] == ">>5 [deleted post]"
    # Comments already labeled in a label file are left out.
    labels = tmp_path / "l.jsonl"
    labels.write_text(
        json.dumps({"id": rows[0]["id"], "text": "x", "labels": {"slur": 0}, "annotator": "m1"}) + "\n",
        encoding="utf-8",
    )
    res = invoke("labels", "queue", str(SEED), "--labels", str(labels), "--out", str(tmp_path / "rest.jsonl"))
    assert "wrote 11 of 12" in res.stderr and "1 already labeled left out" in res.stderr


def test_the_csv_is_inert_in_a_spreadsheet_and_the_import_gets_every_character_back(tmp_path):
    comments = write_comments(tmp_path / "hostile.jsonl", {f"h-{k}": v for k, v in HOSTILE.items()}, "=題\x1b[31m")
    queue = tmp_path / "queue.csv"
    assert invoke("labels", "queue", str(comments), "--out", str(queue)).exit_code == 0
    raw = queue.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")  # a BOM: Excel reads the file as UTF-8
    text = raw.decode("utf-8-sig")
    assert not any(ch in text for ch in "\x1b\x07\u202e\u202c\u200b")  # nothing raw that acts or hides
    rows = read_csv(queue)
    for row in rows:
        for name, cell in row.items():
            assert not cell.startswith(("=", "+", "-", "@", "\t", "\r")), (name, cell)  # no cell runs as a formula
    by_id = {r["id"]: r for r in rows}
    assert by_id["h-formula"]["text"] == "'" + HOSTILE["formula"]
    assert by_id["h-osc"]["text"] == "␛]0;title␇␛[2J消えろ" and by_id["h-bidi"]["text"] == "普通の文\\u202eevil\\u202c"
    assert by_id["h-osc"]["thread_title"] == "'=題␛[31m"
    assert by_id["h-quote"]["text"] == HOSTILE["quote"]  # not a formula: as it is
    # A moderator marks every row in the spreadsheet; the import restores the exact texts.
    for n, row in enumerate(rows):
        row["slur"] = "1" if n % 2 else ""
        row["delete"] = "" if n % 2 else "0"
    filled = write_csv(tmp_path / "filled.csv", rows)
    labels = tmp_path / "l.jsonl"
    res = invoke("labels", "import", str(filled), "--labels", str(labels), "--annotator", "sato")
    assert res.exit_code == 0 and f"imported {len(HOSTILE)} labels" in res.stderr, res.output
    events = read_events(labels)
    assert {e["id"]: e["text"] for e in events} == {f"h-{k}": v for k, v in HOSTILE.items()}
    assert all(e["thread_title"] == "=題\x1b[31m" and e["annotator"] == "sato" for e in events)
    assert [e["labels"]["slur"] for e in events] == [n % 2 for n in range(len(HOSTILE))]
    assert all(e["labels"]["off_topic"] == 0 for e in events)  # a blank cell in a labeled row is 0


def test_a_spreadsheet_round_trip_in_cp932_with_notes_mapped_columns_and_bad_rows(tmp_path):
    texts = {
        "c1": "在韓米軍の話だ",
        "c2": "下朝鮮は黙ってろ",
        "c3": "ラーメン食べたい",
        "c4": "それな",
        "007": "番号だけの id",
    }
    comments = write_comments(tmp_path / "few.jsonl", texts)
    queue = tmp_path / "queue.csv"
    assert invoke("labels", "queue", str(comments), "--out", str(queue)).exit_code == 0
    rows = read_csv(queue)
    for row in rows:
        row["関係ない"] = ""
    by_id = {r["id"]: r for r in rows}
    by_id["c1"]["slur"] = "0"
    by_id["c2"].update(slur="○", delete="○", note="蔑称「下朝鮮」")
    by_id["c3"]["関係ない"] = "x"  # a column of the team's own, mapped to off_topic
    by_id["c4"]["delete"] = "たぶん"  # not a label value: reported, skipped
    by_id["007"].update(id="7", slur="1")  # what a spreadsheet does to 007: caught by the check
    filled = write_csv(tmp_path / "filled.csv", rows, encoding="cp932")  # as a Japanese Excel saves it
    labels = tmp_path / "team.jsonl"
    labels.write_text(
        json.dumps({"id": "c9", "text": "前からある", "labels": {"slur": 0}, "annotator": "kato"}) + "\n",
        encoding="utf-8",
    )
    before = labels.read_bytes()
    res = invoke(
        "labels", "import", str(filled), "--labels", str(labels), "--annotator", "sato", "--map", "関係ない=off_topic"
    )
    assert res.exit_code == 0, res.output
    warnings = [line for line in res.stderr.splitlines() if line.startswith("warning:")]
    assert len(warnings) == 2
    assert f"{filled}:5: delete: 'たぶん' is not a label value" in warnings[0]  # line numbers of the file
    assert f"{filled}:6: its id or text differs from the queue's" in warnings[1]
    assert "imported 3 labels" in res.stderr and "2 bad rows skipped" in res.stderr
    raw = labels.read_bytes()
    assert raw.startswith(before) and raw.endswith(b"\n")  # appended, never rewritten
    events = read_events(labels)[1:]
    got = {e["id"]: (e["labels"], e.get("note")) for e in events}
    assert got == {
        "c1": ({"slur": 0, "off_topic": 0, "delete": 0}, None),
        "c2": ({"slur": 1, "off_topic": 0, "delete": 1}, "蔑称「下朝鮮」"),
        "c3": ({"slur": 0, "off_topic": 1, "delete": 0}, None),
    }
    assert all(e["text"] == texts[e["id"]] and e["thread_title"] == "スレタイ" for e in events)
    assert all(e["imported"] == "import:filled.csv" and e["at"].endswith("Z") for e in events)
    assert export_rows(read_label_files([labels]))[2]["notes"] == ["sato: 蔑称「下朝鮮」"]
    # Imported again: nothing new (each label already stands).
    res = invoke(
        "labels", "import", str(filled), "--labels", str(labels), "--annotator", "sato", "--map", "関係ない=off_topic"
    )
    assert "imported 0 labels" in res.stderr and "3 already in" in res.stderr and labels.read_bytes() == raw


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("notes.txt", "hello", "import reads .csv, .tsv, .jsonl or .json"),
        ("no_id.csv", "text,slur\nx,1\n", "no id column in the header"),
        ("broken.json", "[{", "not JSON"),
        ("all_bad.csv", "id,text,slur\na,x,2\nb,y,maybe\n", "nothing imported from"),
        ("no_labels.csv", "id,text,Toxic\na,x,1\n", "no label column (slur, off_topic, delete)"),
    ],
)
def test_a_file_that_cannot_be_imported_is_one_line_and_writes_nothing(tmp_path, name, content, message):
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    labels = tmp_path / "l.jsonl"
    res = CliRunner().invoke(cli, ["labels", "import", str(path), "--labels", str(labels), "--annotator", "m1"])
    assert res.exit_code == 1 and message in res.stderr and "Traceback" not in res.output
    assert not labels.exists()
    res = CliRunner().invoke(cli, ["labels", "import", str(path), "--labels", str(labels), "--map", "Toxic"])
    assert res.exit_code == 1 and "write COLUMN=LABEL" in res.stderr
    if name.endswith(".csv") and "id" in content:
        res = CliRunner().invoke(cli, ["labels", "import", str(path), "--labels", str(labels), "--map", "Hate=slur"])
        assert res.exit_code == 1 and "--map names a column 'Hate' the file does not have" in res.stderr
    assert not labels.exists()


def label_studio_export(rows: list[dict]) -> list[dict]:
    """Tasks as Label Studio exports them (JSON), made from queue rows imported as tasks: a
    Choices control named "labels" with the choices slur / off_topic / delete / clean, a TextArea
    named "note"; two annotators, one of whom skipped a task (cancelled)."""
    choices = {
        "c1": (["clean"], ["clean"]),
        "c2": (["slur", "delete"], ["slur", "Spam"]),
        "c3": (["off_topic"], ["clean"]),
        "c4": (["delete"], None),
    }
    tasks = []
    for n, row in enumerate(rows, start=1):
        annotations = []
        for who, picked in zip(({"id": 1, "email": "sato@example.jp"}, 2), choices[row["id"]], strict=True):
            result = [
                {
                    "id": f"r{n}",
                    "from_name": "labels",
                    "to_name": "text",
                    "type": "choices",
                    "origin": "manual",
                    "value": {"choices": picked or []},
                }
            ]
            if row["id"] == "c2" and who == 2:
                result.append({"from_name": "note", "to_name": "text", "type": "textarea", "value": {"text": ["蔑称"]}})
            annotations.append(
                {
                    "id": 100 + n,
                    "completed_by": who,
                    "result": result if picked else [],
                    "was_cancelled": picked is None,
                    "ground_truth": False,
                    "created_at": "2026-11-27T10:00:00.000000Z",
                    "lead_time": 4.2,
                    "task": n,
                }
            )
        tasks.append({"id": n, "data": row, "annotations": annotations, "predictions": [], "project": 3, "inner_id": n})
    return tasks


def test_a_label_studio_export_is_read_as_it_is(tmp_path):
    texts = {"c1": "在韓米軍の話だ", "c2": "下朝鮮は黙ってろ", "c3": "ラーメン食べたい", "c4": "それな"}
    queue = tmp_path / "tasks.json"  # what a Label Studio project imports
    comments = write_comments(tmp_path / "few.jsonl", texts)
    assert invoke("labels", "queue", str(comments), "--out", str(queue)).exit_code == 0
    rows = [task["data"] for task in json.loads(queue.read_text(encoding="utf-8"))]
    export = tmp_path / "project-3-at-2026-11-27.json"
    export.write_text(json.dumps(label_studio_export(rows), ensure_ascii=False, indent=1), encoding="utf-8")
    labels = tmp_path / "team.jsonl"
    res = invoke("labels", "import", str(export), "--labels", str(labels), "--map", "Spam=delete")
    assert res.exit_code == 0, res.output
    assert "imported 7 labels" in res.stderr and "1 cancelled annotations" in res.stderr
    events = read_events(labels)
    got = {(e["id"], e["annotator"]): (e["labels"], e.get("note")) for e in events}
    sato, two = "labelstudio:sato@example.jp", "labelstudio:2"
    assert got[("c2", sato)] == ({"slur": 1, "off_topic": 0, "delete": 1}, None)
    assert got[("c2", two)] == ({"slur": 1, "off_topic": 0, "delete": 1}, "蔑称")  # Spam mapped to delete
    assert got[("c1", two)][0] == dict.fromkeys(LABELS, 0) and got[("c3", sato)][0]["off_topic"] == 1
    assert ("c4", two) not in got  # cancelled
    assert all(e["text"] == texts[e["id"]] and e["imported"] == f"label-studio:{export.name}" for e in events)
    stats = json.loads(invoke("labels", "stats", str(labels), "--format", "json").stdout)
    assert [d["id"] for d in stats["disagreements"]] == ["c3"] and stats["agreement"]["slur"]["items"] == 3
    # An unknown choice is named with the task, and the rest is imported.
    tasks = label_studio_export(rows)
    tasks[1]["annotations"][1]["result"][0]["value"]["choices"] = ["Spam"]
    export.write_text(json.dumps(tasks, ensure_ascii=False), encoding="utf-8")
    res = invoke("labels", "import", str(export), "--labels", str(tmp_path / "other.jsonl"))
    assert "task 2 (Label Studio id 2), annotation 2: choice 'Spam' is not a label" in res.stderr
    assert "--map 'Spam=LABEL'" in res.stderr and "imported 6 labels" in res.stderr


def test_queue_errors_are_one_line(tmp_path):
    res = CliRunner().invoke(cli, ["labels", "queue", str(tmp_path / "missing"), "--out", str(tmp_path / "q.csv")])
    assert res.exit_code == 1 and "no such file or directory" in res.stderr
    empty = tmp_path / "empty.jsonl"
    empty.write_text(json.dumps({"id": "a", "thread": "t", "kind": "article", "text": "記事"}) + "\n", encoding="utf-8")
    res = CliRunner().invoke(cli, ["labels", "queue", str(empty), "--out", str(tmp_path / "q.csv")])
    assert res.exit_code == 1 and "no comments to label" in res.stderr and not (tmp_path / "q.csv").exists()


def test_an_import_beside_a_moderator_labeling_the_same_file_keeps_every_event_whole(tmp_path):
    """Import appends as the labeling tool does (one locked, fsynced write): run while a moderator
    saves as fast as keys go, every line stays one whole event and nobody's label is lost."""
    import os
    import subprocess
    import sys

    import pexpect
    from conftest import ROOT

    from moderation.apps.labeling.terminal import FRAME_END

    texts = {f"q{n}": f"キューの書き込み{n}" for n in range(40)}
    comments = write_comments(tmp_path / "many.jsonl", texts)
    queue = tmp_path / "queue.csv"
    assert invoke("labels", "queue", str(comments), "--out", str(queue)).exit_code == 0
    rows = read_csv(queue)
    for row in rows:
        row["off_topic"] = "1"
    filled = write_csv(tmp_path / "filled.csv", rows)
    labels = tmp_path / "team.jsonl"
    exe = str(Path(sys.executable).with_name("moderation"))
    dry = invoke("labels", "import", str(filled), "--labels", str(labels), "--annotator", "x", "--dry-run")
    assert "would import 40 labels" in dry.stderr and not labels.exists()
    tool = pexpect.spawn(
        exe,
        ["label", str(comments), "--labels", str(labels), "--annotator", "term"],
        cwd=str(ROOT),
        dimensions=(40, 160),
        encoding="utf-8",
        timeout=60,
        env={**os.environ, "TERM": "xterm"},
    )
    tool.delaybeforesend = None
    tool.expect_exact(FRAME_END)
    tool.send("sd\r" * len(texts))  # the moderator saves as fast as keys go …
    imports = [  # … while three spreadsheets are imported into the same file
        subprocess.Popen(
            [exe, "labels", "import", str(filled), "--labels", str(labels), "--annotator", f"sheet{k}"],
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        for k in range(3)
    ]
    for proc in imports:
        assert proc.wait(120) == 0, proc.stderr.read() if proc.stderr else ""
    tool.expect(f"All {len(texts)} comments are labeled by", timeout=120)
    tool.send("q")
    tool.expect(pexpect.EOF)
    tool.close()
    raw = labels.read_bytes()
    assert raw.endswith(b"\n")
    events = [json.loads(line) for line in raw.decode("utf-8").splitlines()]  # every line whole
    by = {}
    for e in events:
        by.setdefault(e["annotator"], []).append(e)
    assert sorted(by) == ["sheet0", "sheet1", "sheet2", "term"]
    assert all(len({e["id"] for e in by[a]}) == len(by[a]) == len(texts) for a in by)
    assert all(e["labels"] == {"slur": 0, "off_topic": 1, "delete": 0} for a in by if a != "term" for e in by[a])
    assert all(e["labels"] == {"slur": 1, "off_topic": 0, "delete": 1} for e in by["term"])
    # The same event as the tool writes (plus where it was imported from), same text and context.
    tool_event, imported = by["term"][0], next(e for e in by["sheet0"] if e["id"] == by["term"][0]["id"])
    assert set(imported) - set(tool_event) == {"imported"} and set(tool_event) - set(imported) <= {"source"}
    for key in ("text", "thread", "thread_title"):
        assert imported[key] == tool_event[key]
