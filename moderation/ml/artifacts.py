"""The model directory: artifacts written atomically, checked by sha256 before loading.

A model directory holds ``featurizer.joblib`` (the feature views, without the
sentencepiece model), ``spm.model``, ``classifiers.joblib`` (one calibrated classifier
per label) and ``manifest.json`` (version, creation time, training data summary,
thresholds, cross-validated metrics, and the sha256 of every artifact). Nothing is
unpickled before its hash is checked, and a model is written to a temporary directory
and renamed into place, so a crash never leaves half a model.

Examples
--------
>>> from moderation.moderator import default_model_path
>>> read_manifest(default_model_path())["format"]
'moderation-model/1'
"""

from __future__ import annotations

import copy
import datetime as _dt
import hashlib
import io
import json
import os
import shutil
import stat
import tempfile
from pathlib import Path

from sklearn.pipeline import FeatureUnion

from ..core import ModelError, __version__
from .calibration import threshold_to_json
from .estimator import ModerationModel

MODEL_FORMAT = "moderation-model/1"

ARTIFACTS = ("featurizer.joblib", "classifiers.joblib", "spm.model")


def file_sha256(path: str | os.PathLike) -> str:
    """The sha256 of a file's bytes, read in 1 MiB chunks (hex)."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def save_model(model: ModerationModel, out: str | os.PathLike, *, training: dict | None = None) -> dict:
    """Write ``model`` to the directory ``out`` atomically and return its manifest.

    The directory holds ``featurizer.joblib`` (without the sentencepiece model),
    ``spm.model``, ``classifiers.joblib`` and ``manifest.json`` (version, creation time,
    training data summary and sha256, thresholds, metrics, the sha256 of every artifact).
    """
    import joblib

    out = check_output_dir(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent))
    try:
        tmp.chmod(0o755)
        (tmp / "spm.model").write_bytes(dict(model.featurizer_.transformer_list)["subwords"].sp_model_)
        joblib.dump(_without_sentencepiece(model.featurizer_), tmp / "featurizer.joblib", compress=3)
        classifiers = {
            "labels": model.labels,
            "label_models": model.labels_,
            "skipped": model.skipped_,
            "params": _plain_params(model),
        }
        joblib.dump(classifiers, tmp / "classifiers.joblib", compress=3)
        lexicon = dict(model.featurizer_.transformer_list)["lexicon"].lexicon_
        created = _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0)
        artifacts = {name: file_sha256(tmp / name) for name in ARTIFACTS}
        manifest = {
            "format": MODEL_FORMAT,
            "version": created.strftime("%Y%m%dT%H%M%SZ")
            + "-"
            + hashlib.sha256("".join(artifacts.values()).encode()).hexdigest()[:8],
            "created": created.isoformat(),
            "package_version": __version__,
            "labels": {
                label: (
                    {"trained": True, "hold": lm.hold, "reject": threshold_to_json(lm.reject), "metrics": lm.metrics}
                    if (lm := model.labels_.get(label))
                    else {"trained": False, "reason": model.skipped_.get(label, "not trained")}
                )
                for label in model.labels
            },
            "training_data": training or {},
            "lexicon": {"version": lexicon.version, "sha256": lexicon.sha256, "entries": len(lexicon.entries)},
            "params": {k: (list(v) if isinstance(v, tuple) else v) for k, v in _plain_params(model).items()},
            "artifacts": artifacts,
        }
        (tmp / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
        for f in tmp.iterdir():
            with open(f, "rb") as fh:
                os.fsync(fh.fileno())
        _swap_into_place(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return manifest


def check_output_dir(out: str | os.PathLike) -> Path:
    """Where a model may be written: a new path, an empty directory or an existing model
    directory (which is replaced); anything else is refused rather than deleted."""
    out = Path(out).resolve()
    if out.exists() and (not out.is_dir() or (any(out.iterdir()) and not (out / "manifest.json").is_file())):
        raise ModelError(
            f"{out}: exists and is not a model directory; refusing to replace it "
            "(choose a new --out, or an existing model directory to overwrite)"
        )
    return out


def _swap_into_place(tmp: Path, out: Path) -> None:
    """Rename the finished directory into place; an old model is replaced only after."""
    if out.exists():
        old = out.with_name(f".{out.name}.old-{os.getpid()}")
        os.replace(out, old)
        try:
            os.replace(tmp, out)
        except BaseException:
            os.replace(old, out)
            raise
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(tmp, out)


def read_manifest(path: str | os.PathLike) -> dict:
    """The manifest of a model directory, checked for form (not yet the artifact hashes)."""
    path = Path(path)
    if not path.is_dir():
        raise ModelError(f"{path}: not a model directory (no such directory)")
    manifest_path = path / "manifest.json"
    try:
        manifest = json.loads(_read_regular(manifest_path, MAX_MANIFEST_BYTES).decode("utf-8"))
    except FileNotFoundError:
        raise ModelError(f"{path}: no manifest.json; not a model directory written by 'moderation train'") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelError(f"{manifest_path}: unreadable manifest ({exc})") from None
    if not isinstance(manifest, dict) or manifest.get("format") != MODEL_FORMAT:
        raise ModelError(f"{manifest_path}: not a {MODEL_FORMAT} manifest")
    if not isinstance(manifest.get("artifacts"), dict) or not set(ARTIFACTS) <= set(manifest["artifacts"]):
        raise ModelError(f"{manifest_path}: the manifest does not list the model's artifacts ({', '.join(ARTIFACTS)})")
    return manifest


#: Bytes an artifact may have (a model is tens of MB; a device or a runaway file is refused).
MAX_ARTIFACT_BYTES = 2 << 30
#: Bytes a manifest may have.
MAX_MANIFEST_BYTES = 64 << 20


def _read_regular(f: Path, limit: int) -> bytes:
    """The bytes of ``f`` if it is a regular file of at most ``limit`` bytes.

    Looked at with :func:`os.stat` before it is opened, and opened without blocking, so a
    FIFO or a device put in a model directory is refused, never read (a FIFO blocked the
    loader for ever). ``FileNotFoundError`` and other ``OSError`` propagate.
    """
    before = os.stat(f)
    if not stat.S_ISREG(before.st_mode):
        raise ModelError(f"{f}: not a regular file, refusing to read it")
    if before.st_size > limit:
        raise ModelError(f"{f}: {before.st_size:,} bytes, over the {limit:,} a model file may have")
    fd = os.open(f, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0))
    with os.fdopen(fd, "rb") as fh:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode) or (info.st_dev, info.st_ino) != (before.st_dev, before.st_ino):
            raise ModelError(f"{f}: changed while it was being opened, refusing to read it")
        os.set_blocking(fd, True)
        raw = fh.read(limit + 1)
    if len(raw) > limit:
        raise ModelError(f"{f}: over the {limit:,} bytes a model file may have")
    return raw


def read_artifacts(path: str | os.PathLike) -> tuple[dict, dict[str, bytes]]:
    """The manifest and the bytes of every artifact, each read once and checked against the
    manifest's sha256: what is checked is what is loaded (a file swapped after the check is
    never read). Foreign files in the directory are refused.

    Raises
    ------
    ModelError
        One line naming the file: missing, not a regular file, too large, unreadable,
        changed since training, or not part of the model.
    """
    path = Path(path)
    manifest = read_manifest(path)
    listed = set(manifest["artifacts"]) | {"manifest.json"}
    data: dict[str, bytes] = {}
    for name, digest in manifest["artifacts"].items():
        f = path / name
        if "/" in name or name.startswith("."):
            raise ModelError(f"{path}/manifest.json: artifact name {name!r} is not a plain file name")
        try:
            raw = _read_regular(f, MAX_ARTIFACT_BYTES)
        except FileNotFoundError:
            raise ModelError(f"{f}: missing (listed in the manifest)") from None
        except OSError as exc:
            raise ModelError(f"{f}: cannot read ({exc.strerror or exc})") from None
        if hashlib.sha256(raw).hexdigest() != digest:
            raise ModelError(
                f"{f}: sha256 does not match the manifest; the file was changed or replaced, refusing to load it"
            )
        data[name] = raw
    for f in path.iterdir():
        if f.name not in listed and not f.name.startswith("."):
            raise ModelError(f"{f}: not part of this model (not in its manifest); remove it or retrain")
    return manifest, data


def verify_model_dir(path: str | os.PathLike) -> dict:
    """Check every artifact's sha256 against the manifest and refuse foreign files.

    A joblib file runs code when it is loaded, so nothing is loaded before this passes
    (:func:`load_model` loads the very bytes :func:`read_artifacts` checked).
    """
    return read_artifacts(path)[0]


def _check_thresholds(path: Path, manifest: dict, model: ModerationModel) -> None:
    """The manifest's thresholds are the hashed classifiers' (an edit of manifest.json is refused)."""
    written = manifest.get("labels")
    if not isinstance(written, dict):
        raise ModelError(f"{path}/manifest.json: no 'labels' table; the manifest was edited or is not this model's")
    for label, lm in model.labels_.items():
        entry = written.get(label)
        if (
            not isinstance(entry, dict)
            or entry.get("hold") != lm.hold
            or entry.get("reject") != threshold_to_json(lm.reject)
        ):
            raise ModelError(
                f"{path}/manifest.json: the thresholds of '{label}' differ from the trained model's "
                "(manifest.json was edited); set thresholds in a policy file (--config), not in the manifest"
            )


def _check_structure(featurizer: object, classifiers: object) -> None:
    """A ``TypeError`` naming what is not what ``save_model`` writes (a hashed file may still
    hold something else: one rewritten together with its manifest, or another version's)."""
    from .estimator import LabelModel

    if not isinstance(featurizer, FeatureUnion) or "subwords" not in dict(featurizer.transformer_list):
        raise TypeError(f"featurizer.joblib holds a {type(featurizer).__name__}, not the feature views")
    if not isinstance(classifiers, dict) or not {"labels", "label_models", "skipped", "params"} <= set(classifiers):
        raise TypeError("classifiers.joblib does not hold labels, label_models, skipped and params")
    models, skipped, params = classifiers["label_models"], classifiers["skipped"], classifiers["params"]
    if not isinstance(models, dict) or not all(
        isinstance(k, str)
        and isinstance(v, LabelModel)
        and callable(getattr(v.classifier, "decision_function", None))
        and len(v.calibration) == 2
        for k, v in models.items()
    ):
        raise TypeError("classifiers.joblib: label_models is not one classifier per label")
    if not isinstance(skipped, dict) or not isinstance(params, dict):
        raise TypeError("classifiers.joblib: skipped and params are not tables")


def load_model(path: str | os.PathLike) -> tuple[ModerationModel, dict]:
    """Load a model directory after checking it; returns the model and its manifest."""
    import joblib

    path = Path(path)
    manifest, data = read_artifacts(path)
    try:
        featurizer = joblib.load(io.BytesIO(data["featurizer.joblib"]))
        classifiers = joblib.load(io.BytesIO(data["classifiers.joblib"]))
        _check_structure(featurizer, classifiers)
        dict(featurizer.transformer_list)["subwords"].sp_model_ = data["spm.model"]
        params = {
            k: v for k, v in classifiers["params"].items() if k in ModerationModel().get_params() and k != "featurizer"
        }
        model = ModerationModel(**params)
        model.featurizer_ = featurizer
        model.labels_ = classifiers["label_models"]
        model.skipped_ = classifiers["skipped"]
    except Exception as exc:  # a verified file that still fails: another version of the package
        raise ModelError(
            f"{path}: cannot load the model ({type(exc).__name__}: {exc}); "
            "it may come from another version of moderation: retrain it"
        ) from None
    _check_thresholds(path, manifest, model)
    return model, manifest


def _without_sentencepiece(featurizer: FeatureUnion) -> FeatureUnion:
    """A shallow copy of ``featurizer`` whose subword view holds no sentencepiece bytes
    (they are stored once, in ``spm.model``); the fitted model itself is left untouched."""
    out = copy.copy(featurizer)
    views = []
    for name, trans in featurizer.transformer_list:
        if name == "subwords":
            trans = copy.copy(trans)
            trans.sp_model_ = None
        views.append((name, trans))
    out.transformer_list = views
    return out


def _plain_params(model: ModerationModel) -> dict:
    """The model's constructor parameters that a manifest can hold (a custom featurizer is
    stored in ``featurizer.joblib``, not here)."""
    params = model.get_params(deep=False)
    if params.get("featurizer") is not None:
        params["featurizer"] = type(params["featurizer"]).__name__
    return params
