"""智能分拨: the text classifier that suggests a case's category from its title and description.

The model: character 1–2-gram TF-IDF (sublinear tf, n-grams seen in at least two messages) over the
title, given twice, and the description, digits folded to 0. For each category, two one-vs-rest
linear SVMs (class-balanced): one on those features and one on the features scaled by the category's
naive-Bayes log-count ratio (NB-SVM, Wang & Manning 2012). Both are linear in the same features, so
they fold into one weight matrix: a prediction is one sparse product. Their summed scores become
probabilities by temperature scaling fitted on cross-validated scores, so a confidence threshold
(GONGZHI_CLASSIFIER_AUTO_ROUTE) means what it says. bench/classifier.py measures it against the plain
TF-IDF + LinearSVC baseline and lists what else was tried.

The model file is a joblib pickle: only ever load files this deployment wrote (var/models/).
`current()` serves it to intake, cached per process and reloaded when the file changes.
scikit-learn is imported only to train or load, so intake without a model pays nothing.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import logging
import os
import re
import tempfile
import threading
import unicodedata
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from gongzhi.core import audit, clock
from gongzhi.core.principals import SYSTEM

logger = logging.getLogger(__name__)

# Bumped whenever the pickled shape of Model changes; files of another format are ignored.
FORMAT = 1
# Classes with fewer examples than this are left out of training (and reported).
MIN_PER_CLASS = 5
# How often current() looks at the model file.
STAT_EVERY = dt.timedelta(seconds=5)
# Hyperparameters, chosen by 5-fold cross-validation on the TipDM training split (bench/classifier.py).
SVM_C = 1.0
NB_ALPHA = 1.0
CALIBRATION_FOLDS = 5
HOLDOUT_SHARE = 0.2
# The nightly retraining runs in the first hourly check inside these local hours.
NIGHT_HOURS = range(2, 5)
SOURCE_CASES = "cases"

TITLE_COLUMNS = ("title", "留言主题")
DESCRIPTION_COLUMNS = ("description", "body", "留言详情")
LABEL_COLUMNS = ("label", "一级标签", "一级分类")

_SPACES = re.compile(r"\s+")
_DIGITS = re.compile(r"\d")


class TrainingError(ValueError):
    """Training data that cannot make a model; the message is for the operator."""


# ---------------------------------------------------------------- input text


def _clean(value: str | None) -> str:
    # NFKC turns full-width letters, digits, punctuation and spaces (U+3000) into their plain forms.
    return _SPACES.sub(" ", unicodedata.normalize("NFKC", value or "")).strip()


def text_of(title: str | None, description: str | None) -> str:
    """The classifier's input for a case — the single place it is built, for training and prediction.

    Title and description are normalised (NFKC, whitespace runs collapsed to one space) and joined by
    a newline, which tells the model where the title ends.
    """
    return f"{_clean(title)}\n{_clean(description)}"


def _feature_text(text: str) -> str:
    """The title counts twice (it names the problem most directly). Digits are folded: amounts,
    dates, house and phone numbers say nothing about the category and stay out of the vocabulary."""
    title, _sep, description = text.partition("\n")
    return _DIGITS.sub("0", f"{title} {title} {description}" if title else description)


# ---------------------------------------------------------------- the model


@dataclass(eq=False)
class Model:
    """A trained classifier: vectorizer, folded linear weights, temperature and what it was fit on."""

    vectorizer: object  # fitted sklearn TfidfVectorizer
    weights: np.ndarray  # (features, classes)
    bias: np.ndarray  # (classes,)
    temperature: float
    labels: tuple[str, ...]  # category codes, in the order of the weight columns
    trained_at: dt.datetime
    samples: int
    version: str
    source: str = SOURCE_CASES  # "cases" or "csv:<file name>"
    sklearn_version: str = ""
    format: int = FORMAT

    def _scores(self, texts: Sequence[str]) -> np.ndarray:
        features = self.vectorizer.transform([_feature_text(t) for t in texts])
        return np.asarray(features @ self.weights) + self.bias

    def probabilities(self, texts: Sequence[str]) -> np.ndarray:
        """(texts, labels) calibrated probabilities; each row sums to 1."""
        return _softmax(self._scores(texts) / self.temperature)

    def predict_top_many(self, texts: Sequence[str], k: int = 3) -> list[list[tuple[str, float]]]:
        """The k likeliest categories of each text, best first, with their probabilities."""
        if not texts:
            return []
        proba = self.probabilities(texts)
        k = max(1, min(k, len(self.labels)))
        order = np.argsort(-proba, axis=1, kind="stable")[:, :k]
        return [
            [(self.labels[j], float(row[j])) for j in best] for row, best in zip(proba, order, strict=True)
        ]

    def predict_top(self, text: str, k: int = 3) -> list[tuple[str, float]]:
        return self.predict_top_many([text], k)[0]


def _softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def _fit_linear(x, y: np.ndarray, n_classes: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """One-vs-rest: plain SVM + NB-SVM per class, folded into (features, classes) weights and a bias."""
    from sklearn.svm import LinearSVC

    # Liblinear may need more than its default 1,000 passes on small, NB-scaled data (the demo's).
    svm = {"C": SVM_C, "class_weight": "balanced", "max_iter": 10_000, "random_state": seed}
    present = (x > 0).astype(np.float64)
    weights = np.zeros((x.shape[1], n_classes), dtype=np.float32)
    bias = np.zeros(n_classes)
    for c in range(n_classes):
        positive = y == c
        p = NB_ALPHA + np.asarray(present[positive].sum(axis=0)).ravel()
        q = NB_ALPHA + np.asarray(present[~positive].sum(axis=0)).ravel()
        ratio = np.log((p / p.sum()) / (q / q.sum()))
        plain = LinearSVC(**svm).fit(x, positive)
        scaled = LinearSVC(**svm).fit(x.multiply(ratio).tocsr(), positive)
        weights[:, c] = plain.coef_[0] + ratio * scaled.coef_[0]
        bias[c] = plain.intercept_[0] + scaled.intercept_[0]
    return weights, bias


def _fit_temperature(scores: np.ndarray, y: np.ndarray) -> float:
    """The T minimising the log loss of softmax(scores / T) (Guo et al. 2017), against targets
    smoothed by the rule of succession: when every held-out message is right, a small training set
    still leaves 1/(n+2) of doubt instead of a certainty no threshold can tell from the rest."""
    from scipy.optimize import minimize_scalar

    n, k = scores.shape
    doubt = 1 / (n + 2)
    targets = np.full((n, k), doubt / (k - 1))
    targets[np.arange(n), y] = 1 - doubt

    def loss(log_t: float) -> float:
        z = scores / np.exp(log_t)
        z = z - z.max(axis=1, keepdims=True)
        log_p = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
        return float(-np.mean((targets * log_p).sum(axis=1)))

    return float(np.exp(minimize_scalar(loss, bounds=(np.log(0.01), np.log(100)), method="bounded").x))


def train(texts: Sequence[str], labels: Sequence[str], *, seed: int = 0, source: str = SOURCE_CASES) -> Model:
    """Fit a model on texts built by text_of() and their category codes."""
    import sklearn
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.model_selection import StratifiedKFold

    if len(texts) != len(labels):
        raise ValueError("texts and labels differ in length")
    counts = Counter(labels)
    if len(counts) < 2:
        raise TrainingError(_("至少需要 2 个分类的样本才能训练，现有 %(n)d 个") % {"n": len(counts)})
    if min(counts.values()) < 2:
        thin = ", ".join(sorted(code for code, n in counts.items() if n < 2))
        raise TrainingError(_("每个分类至少需要 2 条样本：%(codes)s") % {"codes": thin})
    classes = tuple(sorted(counts))
    y = np.searchsorted(classes, list(labels))
    # min_df=2: n-grams of a single message (names, addresses) stay out of the vocabulary and the file.
    vectorizer = TfidfVectorizer(analyzer="char", ngram_range=(1, 2), sublinear_tf=True, min_df=2)
    try:
        x = vectorizer.fit_transform([_feature_text(t) for t in texts]).tocsr()
    except ValueError as exc:  # no n-gram occurs twice
        raise TrainingError(_("样本文字太少，无法训练")) from exc
    # Cross-validated scores, as unseen text would get them, to fit the temperature on.
    folds = StratifiedKFold(min(CALIBRATION_FOLDS, min(counts.values())), shuffle=True, random_state=seed)
    held_out = np.zeros((len(y), len(classes)))
    for fit_rows, score_rows in folds.split(x, y):
        w, b = _fit_linear(x[fit_rows], y[fit_rows], len(classes), seed)
        held_out[score_rows] = np.asarray(x[score_rows] @ w) + b
    weights, bias = _fit_linear(x, y, len(classes), seed)
    trained_at = clock.now()
    digest = hashlib.sha256()
    for text, label in zip(texts, labels, strict=True):
        digest.update(f"{label}\t{text}\x00".encode())
    return Model(
        vectorizer=vectorizer,
        weights=weights,
        bias=bias,
        temperature=_fit_temperature(held_out, y),
        labels=classes,
        trained_at=trained_at,
        samples=len(texts),
        # e.g. 20261123T020000-6161-3fa2c1d0 (at most 40 characters, as CategorySuggestion stores it)
        version=f"{timezone.localtime(trained_at):%Y%m%dT%H%M%S}-{len(texts)}-{digest.hexdigest()[:8]}",
        source=source,
        sklearn_version=sklearn.__version__,
    )


@dataclass(frozen=True)
class Evaluation:
    accuracy: float
    top3: float
    tested: int


def holdout(texts: Sequence[str], labels: Sequence[str], *, seed: int = 0) -> Evaluation:
    """Accuracy of a model trained on a stratified 80 % and tested on the rest."""
    from sklearn.model_selection import train_test_split

    n_classes = len(set(labels))
    test_size = max(n_classes, round(len(texts) * HOLDOUT_SHARE))
    fit_x, test_x, fit_y, test_y = train_test_split(
        list(texts), list(labels), test_size=test_size, stratify=list(labels), random_state=seed
    )
    top = train(fit_x, fit_y, seed=seed).predict_top_many(test_x, k=3)
    hits = [[code for code, _p in best] for best in top]
    return Evaluation(
        accuracy=float(np.mean([h[0] == t for h, t in zip(hits, test_y, strict=True)])),
        top3=float(np.mean([t in h for h, t in zip(hits, test_y, strict=True)])),
        tested=len(test_y),
    )


# ---------------------------------------------------------------- files


def save(model: Model, path: str | os.PathLike) -> None:
    """Write atomically (temporary file, then rename), so readers see the old model or the new one."""
    import joblib

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            joblib.dump(model, f, compress=3)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def load(path: str | os.PathLike) -> Model | None:
    """The model in `path`; None when there is no file or it cannot be used (logged as a warning)."""
    path = Path(path)
    if not path.is_file():
        return None
    try:
        import joblib
        import sklearn

        model = joblib.load(path)
    except Exception as exc:  # a corrupt or foreign file must never break intake
        logger.warning("case classifier model %s cannot be read, ignored: %r", path, exc)
        return None
    if not isinstance(model, Model) or getattr(model, "format", None) != FORMAT:
        logger.warning("case classifier model %s is not a model of format %s, ignored", path, FORMAT)
        return None
    if model.sklearn_version != sklearn.__version__:
        # scikit-learn does not promise to read its own objects across versions; retrain instead.
        logger.warning(
            "case classifier model %s was made with scikit-learn %s, this is %s: ignored until retrained",
            path,
            model.sklearn_version,
            sklearn.__version__,
        )
        return None
    return model


@dataclass
class _Cache:
    path: Path | None = None
    signature: tuple | None = None
    model: Model | None = None
    checked: dt.datetime | None = None


_cache = _Cache()
_cache_lock = threading.Lock()


def current() -> Model | None:
    """This deployment's model (settings.GONGZHI_CLASSIFIER_MODEL), or None when there is none.

    Cached per process; the file is looked at no more than every STAT_EVERY and reloaded when it
    changed (a new file from save() always has a new inode). Never raises.
    """
    path = Path(settings.GONGZHI_CLASSIFIER_MODEL)
    now = clock.now()
    with _cache_lock:
        fresh = _cache.checked is not None and _cache.checked <= now < _cache.checked + STAT_EVERY
        if path == _cache.path and fresh:
            return _cache.model
        _cache.checked = now
        try:
            st = path.stat()
            signature = (st.st_mtime_ns, st.st_size, st.st_ino)
        except OSError:
            signature = None
        if path != _cache.path or signature != _cache.signature:
            _cache.path, _cache.signature = path, signature
            _cache.model = load(path) if signature else None
        return _cache.model


# ---------------------------------------------------------------- training data


@dataclass
class TrainingSet:
    """Texts and category codes to train on; unpacks as (texts, labels).

    `dropped`: classes left out for having fewer than MIN_PER_CLASS examples, with their counts;
    `unmapped`: CSV labels the label map does not name, with their row counts; `blank`: CSV rows
    without text or label.
    """

    texts: list[str]
    labels: list[str]
    dropped: dict[str, int] = field(default_factory=dict)
    unmapped: dict[str, int] = field(default_factory=dict)
    blank: int = 0

    def __iter__(self):
        return iter((self.texts, self.labels))

    def counts(self) -> dict[str, int]:
        return dict(sorted(Counter(self.labels).items()))


def _without_rare(texts: list[str], labels: list[str], minimum: int) -> tuple[list, list, dict[str, int]]:
    counts = Counter(labels)
    dropped = {code: n for code, n in sorted(counts.items()) if n < minimum}
    if dropped:
        logger.info("case classifier: classes with fewer than %d examples left out: %s", minimum, dropped)
    kept = [(t, c) for t, c in zip(texts, labels, strict=True) if c not in dropped]
    return [t for t, _c in kept], [c for _t, c in kept], dropped


def training_set_from_cases(
    since: dt.datetime | None = None, *, min_per_class: int = MIN_PER_CLASS
) -> TrainingSet:
    """Closed cases with a category (closed since `since`); the label is the final category's code."""
    from gongzhi.cases.models import Case, Status

    cases = Case.objects.filter(status=Status.CLOSED, category__isnull=False)
    if since is not None:
        cases = cases.filter(closed_at__gte=since)
    texts, labels = [], []
    for title, description, code in cases.order_by("pk").values_list(
        "title", "description", "category__code"
    ):
        texts.append(text_of(title, description))
        labels.append(code)
    texts, labels, dropped = _without_rare(texts, labels, min_per_class)
    return TrainingSet(texts, labels, dropped=dropped)


def _open_csv(path: Path):
    """A DictReader over a UTF-8 CSV (with or without BOM); TrainingError when it cannot be read."""
    try:
        f = path.open(encoding="utf-8-sig", newline="")
    except OSError as exc:
        raise TrainingError(_("无法打开文件 %(f)s：%(e)s") % {"f": path, "e": exc.strerror or exc}) from exc
    return f, csv.DictReader(f)


def _unreadable(path: Path, exc: Exception) -> TrainingError:
    return TrainingError(_("无法读取 %(f)s（须为 UTF-8 编码的 CSV）：%(e)s") % {"f": path.name, "e": exc})


def _column(header: Sequence[str], names: Sequence[str]) -> str | None:
    present = {h.strip(): h for h in header}
    return next((present[n] for n in names if n in present), None)


def read_labelled_csv(path: str | os.PathLike) -> tuple[list[tuple[str, str]], int]:
    """(text, label) pairs from a CSV with title/description/label columns, and the blank rows skipped.

    Column names: title, description (or body), label; or the TipDM ones 留言主题, 留言详情, 一级标签.
    """
    path = Path(path)
    f, reader = _open_csv(path)
    rows, blank = [], 0
    try:
        with f:
            header = reader.fieldnames or []
            title, description = _column(header, TITLE_COLUMNS), _column(header, DESCRIPTION_COLUMNS)
            label = _column(header, LABEL_COLUMNS)
            if label is None or (title is None and description is None):
                raise TrainingError(
                    _("%(f)s 须有 label（或 一级标签）列，以及 title、description（或 留言主题、留言详情）列")
                    % {"f": path.name}
                )
            for row in reader:
                text = text_of(row.get(title) if title else "", row.get(description) if description else "")
                value = (row.get(label) or "").strip()
                if not value or not text.strip():
                    blank += 1
                    continue
                rows.append((text, value))
    except (UnicodeDecodeError, csv.Error) as exc:
        raise _unreadable(path, exc) from exc
    return rows, blank


def read_label_map(path: str | os.PathLike) -> dict[str, str]:
    """External label → category code, from a CSV with columns label,category_code; codes must exist."""
    from gongzhi.cases.models import Category

    path = Path(path)
    f, reader = _open_csv(path)
    mapping: dict[str, str] = {}
    problems: list[str] = []
    try:
        with f:
            header = [h.strip() for h in reader.fieldnames or []]
            if "label" not in header or "category_code" not in header:
                raise TrainingError(_("分类对照表 %(f)s 须有 label 和 category_code 两列") % {"f": path.name})
            for line, row in enumerate(reader, start=2):
                row = {(k or "").strip(): (v or "").strip() for k, v in row.items()}
                label, code = row["label"], row["category_code"]
                if not label or not code:
                    problems.append(_("第 %(n)d 行：label 和 category_code 都须填写") % {"n": line})
                elif mapping.get(label, code) != code:
                    problems.append(
                        _("第 %(n)d 行：标签“%(l)s”已对应到 %(c)s")
                        % {"n": line, "l": label, "c": mapping[label]}
                    )
                else:
                    mapping[label] = code
    except (UnicodeDecodeError, csv.Error) as exc:
        raise _unreadable(path, exc) from exc
    known = set(Category.objects.filter(code__in=set(mapping.values())).values_list("code", flat=True))
    unknown = sorted(set(mapping.values()) - known)
    if unknown:
        problems.append(_("没有这些分类代码：%(codes)s") % {"codes": "、".join(unknown)})
    if problems:
        raise TrainingError(_("分类对照表 %(f)s 有误：") % {"f": path.name} + "；".join(problems))
    if not mapping:
        raise TrainingError(_("分类对照表 %(f)s 是空的") % {"f": path.name})
    return mapping


def train_from_csv(
    path: str | os.PathLike, label_map_path: str | os.PathLike, *, min_per_class: int = MIN_PER_CLASS
) -> TrainingSet:
    """Training data from a labelled CSV, its labels mapped onto our category codes.

    Rows whose label the map does not name are skipped and counted in `unmapped`.
    """
    mapping = read_label_map(label_map_path)
    rows, blank = read_labelled_csv(path)
    unmapped = Counter(label for _text, label in rows if label not in mapping)
    texts = [text for text, label in rows if label in mapping]
    labels = [mapping[label] for _text, label in rows if label in mapping]
    texts, labels, dropped = _without_rare(texts, labels, min_per_class)
    return TrainingSet(texts, labels, dropped=dropped, unmapped=dict(unmapped.most_common()), blank=blank)


# ---------------------------------------------------------------- publishing


def publish(model: Model, path: str | os.PathLike, *, details: dict) -> None:
    """Write the model where intake reads it and audit it; when either fails, neither happens."""
    path = Path(path)
    with transaction.atomic():
        audit.record(
            SYSTEM,
            "case.classifier_trained",
            after={
                "version": model.version,
                "source": model.source,
                "samples": model.samples,
                "model": path.name,
                **details,
            },
        )
        save(model, path)


def train_and_publish(data: TrainingSet, path: str | os.PathLike, *, source: str, seed: int = 0):
    """Held-out accuracy, then a model on all the data, written and audited. Returns (model, evaluation)."""
    if len(set(data.labels)) < 2:
        raise TrainingError(
            _("可用于训练的分类不足 2 个（每个分类至少 %(m)d 条样本）") % {"m": MIN_PER_CLASS}
        )
    evaluation = holdout(data.texts, data.labels, seed=seed)
    model = train(data.texts, data.labels, seed=seed, source=source)
    details = {
        "classes": data.counts(),
        "holdout_accuracy": round(evaluation.accuracy, 4),
        "holdout_top3": round(evaluation.top3, 4),
        "dropped": data.dropped,
    }
    if source != SOURCE_CASES:
        details |= {"unmapped": data.unmapped, "blank": data.blank}
    publish(model, path, details=details)
    return model, evaluation


def retrain_from_cases(now: dt.datetime | None = None) -> Model | None:
    """The nightly retraining: from closed cases, in the night hours, at most once a night.

    A model trained from a CSV (a deployment's start-up data) is replaced only once the closed cases
    outnumber its samples. Too little data is not an error here: the current model stays.
    """
    now = now or clock.now()
    if timezone.localtime(now).hour not in NIGHT_HOURS:
        return None
    model = load(settings.GONGZHI_CLASSIFIER_MODEL)  # not current(): its cache may predate last night
    if model is not None and model.source == SOURCE_CASES and now - model.trained_at < dt.timedelta(hours=20):
        return None
    data = training_set_from_cases()
    if model is not None and model.source != SOURCE_CASES and len(data.texts) <= model.samples:
        return None
    try:
        model, evaluation = train_and_publish(data, settings.GONGZHI_CLASSIFIER_MODEL, source=SOURCE_CASES)
    except TrainingError as exc:
        logger.info("case classifier not retrained: %s", exc)
        return None
    logger.info(
        "case classifier retrained: %s, %d samples, held-out accuracy %.3f",
        model.version,
        model.samples,
        evaluation.accuracy,
    )
    return model
