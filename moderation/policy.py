"""The decision rule: scores → ``allow`` / ``hold`` / ``reject``, in one object.

:class:`Decider` owns every part of the rule: the per-label ``hold`` and ``reject``
thresholds (the model's, overridden by a forum's policy), the rule that ``off_topic``
decides nothing for a comment without thread context, and a forum's own ``block`` and
``watch`` terms. :class:`PolicyConfig` is the forum's policy file (``--config policy.toml``),
validated by pydantic so that a typo is an error, not a no-op.

Examples
--------
>>> import numpy as np
>>> decider = Decider({"slur": {"hold": 0.3, "reject": 0.8}, "off_topic": {"hold": 0.5, "reject": NEVER}})
>>> decider.decide({"slur": np.array([0.9, 0.4, 0.1]), "off_topic": np.array([0.1, 0.1, 0.9])},
...                has_context=np.array([True, True, False]))
(['reject', 'hold', 'allow'], [['slur'], ['slur'], []])
>>> policy = PolicyConfig.model_validate({"terms": {"block": ["闇バイト"]}})
>>> Decider({}, block=policy.terms.block).term_reasons("闇 バ イ ト募集")[0].excerpt
'闇 バ イ ト'
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from functools import lru_cache
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from .core import ACTIONS, LABELS, NEVER, Decision, PolicyError, Reason, step
from .io.inputs import read_input
from .ml.terms import TermMatcher, term_key
from .ml.text import WILDCARD, fold_text

MISSING_MODEL_CHOICES = ("refuse", "allow")
#: A label's thresholds: ``{"hold": p, "reject": p}``; :data:`~moderation.core.NEVER` turns a step off.
Thresholds = Mapping[str, Mapping[str, float]]


# --------------------------------------------------------------------------- the policy file

ThresholdValue = float | Literal["never"]


class LabelThresholds(BaseModel):
    """One label's overrides: ``hold`` and/or ``reject``, a probability or ``"never"``."""

    model_config = ConfigDict(extra="forbid")

    hold: ThresholdValue | None = None
    reject: ThresholdValue | None = None

    @field_validator("hold", "reject", mode="before")
    @classmethod
    def _probability(cls, value: Any) -> Any:
        if value is None or value == "never":
            return value
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 <= value <= 1.0:
            raise ValueError(f'must be a number from 0 to 1 (or "never"), not {value!r}')
        return float(value)

    @model_validator(mode="after")
    def _ordered(self) -> LabelThresholds:
        if self.hold is None and self.reject is None:
            raise ValueError("give hold and/or reject, nothing else")
        values = self.as_dict()
        if "hold" in values and "reject" in values and values["hold"] > values["reject"]:
            raise ValueError(f"hold ({self.hold}) is above reject ({self.reject})")
        return self

    def as_dict(self) -> dict[str, float]:
        """The overrides given, with ``"never"`` as :data:`~moderation.core.NEVER`."""
        return {
            k: (NEVER if v == "never" else float(v))
            for k, v in (("hold", self.hold), ("reject", self.reject))
            if v is not None
        }


class Terms(BaseModel):
    """A forum's own words: ``block`` rejects a post, ``watch`` holds it."""

    model_config = ConfigDict(extra="forbid")

    block: list[str] = Field(default_factory=list)
    watch: list[str] = Field(default_factory=list)

    @field_validator("block", "watch")
    @classmethod
    def _matchable(cls, terms: list[str]) -> list[str]:
        for term in terms:
            is_word, key = term_key(term)  # the key the automata will use (cached for them)
            # A word term must also hold more than separators (as the lexicon's fold sees them).
            folded = fold_text(term, kana=False) if is_word else key
            if not key.replace(WILDCARD, "").strip() or not folded.replace(WILDCARD, ""):
                raise ValueError(f"term {term!r} is empty once normalised (only blanks, separators or masks)")
        return terms


class PolicyConfig(BaseModel):
    """A forum's policy: threshold overrides, block and watch terms, missing-model behaviour.

    Parameters
    ----------
    on_missing_model : {'refuse', 'allow'}
        ``refuse``: the server does not start without a usable model. ``allow``: it starts,
        answers ``allow`` (block and watch terms still apply) and ``/healthz`` says ``degraded``.
    thresholds : dict of str to LabelThresholds
        Per label, ``hold`` and/or ``reject`` (the model's is kept for the one left out).
    terms : Terms

    Examples
    --------
    >>> policy = PolicyConfig.model_validate({"thresholds": {"off_topic": {"reject": "never"}}})
    >>> policy.thresholds["off_topic"].as_dict()
    {'reject': inf}
    """

    model_config = ConfigDict(extra="forbid")

    on_missing_model: Literal["refuse", "allow"] = "refuse"
    thresholds: dict[str, LabelThresholds] = Field(default_factory=dict)
    terms: Terms = Field(default_factory=Terms)
    source: str | None = Field(default=None, exclude=True)

    @field_validator("thresholds")
    @classmethod
    def _known_labels(cls, table: dict[str, LabelThresholds]) -> dict[str, LabelThresholds]:
        for label in table:
            if label not in LABELS:
                raise ValueError(f"[thresholds.{label}]: unknown label; the labels are {', '.join(LABELS)}")
        return table

    def overrides(self) -> dict[str, dict[str, float]]:
        """``{label: {"hold"?: p, "reject"?: p}}`` as given in the file."""
        return {label: t.as_dict() for label, t in self.thresholds.items()}


def _where(loc: Sequence[Any]) -> str:
    parts = [str(p) for p in loc]
    if parts[:1] == ["thresholds"] and len(parts) >= 2:
        return f"[thresholds.{parts[1]}]" + (f" {parts[2]}" if len(parts) > 2 else "")
    if parts[:1] == ["terms"]:
        return "[terms]" + (f" {parts[1]}" if len(parts) > 1 else "")
    return ".".join(parts)


def parse_policy(data: Mapping[str, Any], source: str = "the policy") -> PolicyConfig:
    """A :class:`PolicyConfig` from parsed TOML, every key checked.

    Raises
    ------
    PolicyError
        One line naming ``source`` and the key that is wrong.

    Examples
    --------
    >>> parse_policy({"treshold": 1}, "p.toml")
    Traceback (most recent call last):
    ...
    moderation.core.PolicyError: p.toml: unknown key(s) treshold; the keys are on_missing_model, terms, thresholds
    """
    known = ("on_missing_model", "terms", "thresholds")
    unknown = sorted(set(data) - set(known))
    if unknown:
        raise PolicyError(f"{source}: unknown key(s) {', '.join(unknown)}; the keys are {', '.join(known)}")
    try:
        return PolicyConfig.model_validate({**data, "source": source})
    except ValidationError as exc:
        error = exc.errors()[0]
        where = _where(error["loc"])
        if error["type"] == "extra_forbidden":
            message = "unknown key; " + (
                "[terms] takes block = [...] and watch = [...], nothing else"
                if where.startswith("[terms]")
                else "give hold and/or reject, nothing else"
            )
        elif error["type"] in ("literal_error",) and where == "on_missing_model":
            message = f'must be "refuse" or "allow", not {error["input"]!r}'
        else:
            message = str(error["msg"]).removeprefix("Value error, ")
            if message.startswith("[thresholds."):
                where, message = message.split(": ", 1)
        raise PolicyError(f"{source}: {where}: {message}") from None


def load_policy(path: str | os.PathLike | None) -> PolicyConfig:
    """The policy in a TOML file (the default policy when ``path`` is None).

    Raises
    ------
    PolicyError
        One line naming the file: unreadable, not TOML, or a key or value that is wrong.
    """
    if path is None:
        return PolicyConfig()
    try:
        import tomllib
    except ModuleNotFoundError:  # Python < 3.11
        import tomli as tomllib
    raw = read_input(path, error=PolicyError, what="the config")  # a regular file within the size limit, never a FIFO
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise PolicyError(f"{path}: not UTF-8 text") from None
    except tomllib.TOMLDecodeError as exc:
        raise PolicyError(f"{path}: not valid TOML ({exc})") from None
    return parse_policy(data, str(path))


# --------------------------------------------------------------------------- the decision rule


@lru_cache(maxsize=8)
def _matcher(terms: tuple[str, ...]) -> TermMatcher:
    """The automata of a list of terms, built once per list (the hook's model-less fallback and
    the moderator's decider share them)."""
    return TermMatcher(terms)


class Decider:
    """Thresholds, the off-topic rule and a forum's terms: the one place an action is decided.

    Parameters
    ----------
    thresholds : mapping of str to mapping
        ``{label: {"hold": p, "reject": p}}``. A score at or above ``hold`` holds the
        comment, at or above ``reject`` rejects it; :data:`~moderation.core.NEVER` turns a
        step off. Labels without thresholds decide nothing.
    block, watch : iterable of str
        Terms that make a comment ``reject`` / ``hold`` whatever its scores.

    Examples
    --------
    >>> Decider({"delete": {"hold": 0.5, "reject": 0.9}}).decide({"delete": [0.95]})
    (['reject'], [['delete']])
    """

    def __init__(self, thresholds: Thresholds, *, block: Iterable[str] = (), watch: Iterable[str] = ()):
        self.thresholds = {
            label: {"hold": float(t["hold"]), "reject": float(t["reject"])} for label, t in thresholds.items()
        }
        self.block = list(block)
        self.watch = list(watch)
        self._matchers = [
            (label, _matcher(tuple(terms))) for label, terms in (("block", self.block), ("watch", self.watch)) if terms
        ]

    @classmethod
    def from_policy(cls, model_thresholds: Thresholds, policy: PolicyConfig | None = None) -> Decider:
        """The model's thresholds with the policy's overrides and terms.

        Raises
        ------
        PolicyError
            An override that leaves ``hold`` above ``reject``, or that names a label the model
            has no thresholds for without giving both.
        """
        if policy is None:
            return cls(model_thresholds)
        where = policy.source or "the policy"
        merged: dict[str, dict[str, float]] = {}
        overrides = policy.overrides()
        for label in [*model_thresholds, *(k for k in overrides if k not in model_thresholds)]:
            values = {**model_thresholds.get(label, {}), **overrides.get(label, {})}
            if "hold" not in values or "reject" not in values:
                raise PolicyError(
                    f"{where}: [thresholds.{label}]: the model has no '{label}' classifier to take "
                    "the missing threshold from; give both hold and reject"
                )
            if values["hold"] > values["reject"]:
                raise PolicyError(
                    f"{where}: [thresholds.{label}]: hold ({values['hold']}) is above reject "
                    f"({values['reject']}) once the model's thresholds are filled in"
                )
            merged[label] = dict(values)
        return cls(merged, block=policy.terms.block, watch=policy.terms.watch)

    def decide(
        self, scores: Mapping[str, Sequence[float] | np.ndarray], has_context: Sequence[bool] | np.ndarray | None = None
    ) -> tuple[list[str], list[list[str]]]:
        """The action and the flagged labels of each comment, from its scores alone.

        ``off_topic`` decides nothing for a comment without thread context (``has_context``
        false; default: every comment has context): off-topic means off the thread's topic.
        A NaN score (an untrained label) decides nothing.
        """
        values = {label: np.asarray(scores[label], dtype=float) for label in LABELS if label in scores}
        n = len(next(iter(values.values()))) if values else 0
        contexts = np.ones(n, dtype=bool) if has_context is None else np.asarray(has_context, dtype=bool)
        actions: list[str] = []
        flagged: list[list[str]] = []
        for i in range(n):
            action, labels = "allow", []
            for label, column in values.items():
                p = column[i]
                if label not in self.thresholds or p != p or (label == "off_topic" and not contexts[i]):
                    continue
                level = step(p, self.thresholds[label])
                if level != "allow":
                    labels.append(label)
                    action = max(action, level, key=ACTIONS.index)
            actions.append(action)
            flagged.append(labels)
        return actions, flagged

    def term_reasons(self, text: str) -> list[Reason]:
        """Block, then watch, term hits in ``text`` (spans into the original text)."""
        out = []
        for label, matcher in self._matchers:
            for hit in matcher.find(text):
                a, b = hit.span
                out.append(Reason(label, (a, b), text[a:b], 1.0, "policy"))
        return out

    def apply_terms(self, decision: Decision, text: str) -> Decision:
        """``decision`` with the term hits of ``text`` added to its reasons and action."""
        if not self._matchers:
            return decision
        reasons = self.term_reasons(text)
        if not reasons:
            return decision
        action = decision.action
        if any(r.label == "block" for r in reasons):
            action = "reject"
        elif action == "allow":
            action = "hold"
        return replace(decision, action=action, reasons=reasons + list(decision.reasons))
