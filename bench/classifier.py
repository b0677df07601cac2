"""Case category suggestion (智能分拨): `gongzhi.cases.classifier` on the TipDM 2020 C citizen messages.

Goal (the classifier issue): macro-F1 >= 0.93 on split/test.csv (7 first-level classes), with the p99
latency of one `predict_top` call under 5 ms on CPU. Baseline, measured in the same run: character
1-2-gram TF-IDF + LinearSVC(C=1) on the same text (the data set's reference: macro-F1 0.905).

Trains on split/train.csv only; split/test.csv is only scored. The hyperparameters are fixed in
classifier.py; they were chosen by 5-fold stratified cross-validation on train.csv (seed 0), which
`--cv` repeats for the final pipeline and the baseline. Macro-F1 in that cross-validation:

  char 1-2 TF-IDF + LinearSVC C=1 (baseline)                         0.909
    sublinear tf / C=0.3 / 0.5 / 2                                   0.909 / 0.900 / 0.904 / 0.910
    char 1-3 (min_df 2)                                              0.907
    title repeated / title in a vectorizer of its own                0.911 / 0.910
    class-balanced                                                   0.910
    logistic regression (C=30) / SGD modified Huber                  0.901 / 0.908
    complement / multinomial NB                                      0.872 / 0.861
    self-training on the 6,715 unlabelled messages (fj3+fj4, minus those also in the split),
      pseudo-labels at confidence >= 0.9 / >= 0.5 / all                0.897 / 0.895 / 0.896
    IDF fitted on labelled + unlabelled text                         0.908
  + jieba words (FeatureUnion char 1-2 + word 1, LinearSVC)          0.915
    word 1-2 / char 1-3 + words / words only                         0.911 / 0.912 / 0.904
    averaged calibrated probabilities (SVM + CNB, char SVM + word SVM) 0.905 / 0.910
  NB-SVM (log-count-ratio scaled, one-vs-rest) on char + words       0.920
    + title repeated, digits folded, class-balanced                  0.923
    words only over title + first 300 / 150 body characters         0.920 / 0.920
    NB-SVM char only, title repeated, digits folded, balanced        0.918
    + self-training, top 30 % / 60 % most confident per class        0.919 / 0.914
  plain SVM + NB-SVM scores summed, char only (the model kept)       0.922
    NB weight 0.5 / 2, C 0.5 / 2                                     0.920 / 0.922 / 0.920 / 0.922
    not balanced / title once                                        0.920 / 0.918
    + jieba words                                                    0.923

Word features (jieba) add about 0.001-0.005 but segmenting a long message costs up to 14-18 ms at
p99 (2,200 characters), beyond the latency budget, and truncated to fit they add nothing; so the
model stays on characters and jieba is not a dependency. Calibration: temperature scaling on
cross-validated scores (expected calibration error 0.02 in cross-validation; Platt scaling per class
0.04) keeps the ranking of the scores.

    .venv/bin/python bench/classifier.py [--data DIR] [--cv] [--rounds 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from common import machine  # noqa: E402  (bench/ is the script folder)

# The shared data sets sit beside the checkout (../shared/data); GONGZHI_SHARED_DATA overrides.
DATA = (
    Path(os.environ.get("GONGZHI_SHARED_DATA") or ROOT.parent / "shared" / "data")
    / "tipdm2020c_citizen_messages"
)
BUDGET_F1, BUDGET_P99_MS = 0.93, 5.0


def setup_django() -> None:
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "gongzhi.settings")
    django.setup()


class Baseline:
    """Character 1-2-gram TF-IDF + LinearSVC(C=1); top-k by the SVM's scores."""

    def __init__(self, texts, labels):
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.pipeline import make_pipeline
        from sklearn.svm import LinearSVC

        self.pipeline = make_pipeline(TfidfVectorizer(analyzer="char", ngram_range=(1, 2)), LinearSVC(C=1))
        self.pipeline.fit(texts, labels)

    def predict_top_many(self, texts, k=3):
        scores = self.pipeline.decision_function(texts)
        classes = self.pipeline.classes_
        return [[(classes[j], float(row[j])) for j in np.argsort(-row)[:k]] for row in scores]

    def predict_top(self, text, k=3):
        return self.predict_top_many([text], k)[0]


def scores(model, texts, labels):
    from sklearn.metrics import accuracy_score, f1_score

    top = model.predict_top_many(texts, k=3)
    first = [t[0][0] for t in top]
    return {
        "accuracy": accuracy_score(labels, first),
        "macro_f1": f1_score(labels, first, average="macro"),
        "top3": float(np.mean([y in [c for c, _p in t] for y, t in zip(labels, top, strict=True)])),
        "first": first,
        "top": top,
    }


def latency_ms(model, texts, rounds: int) -> tuple[float, float]:
    for text in texts[:50]:  # warm caches
        model.predict_top(text)
    times = []
    for _ in range(rounds):
        for text in texts:
            t = time.perf_counter()
            model.predict_top(text)
            times.append(time.perf_counter() - t)
    times_ms = np.array(times) * 1000
    return float(np.percentile(times_ms, 50)), float(np.percentile(times_ms, 99))


def cross_validate(texts, labels, make, folds=5, seed=0) -> tuple[float, float]:
    from sklearn.metrics import f1_score
    from sklearn.model_selection import StratifiedKFold

    texts, labels = np.array(texts, dtype=object), np.array(labels)
    f1s = []
    for fit_rows, test_rows in StratifiedKFold(folds, shuffle=True, random_state=seed).split(texts, labels):
        model = make(list(texts[fit_rows]), list(labels[fit_rows]))
        first = [t[0][0] for t in model.predict_top_many(list(texts[test_rows]), k=1)]
        f1s.append(f1_score(labels[test_rows], first, average="macro"))
    return statistics.mean(f1s), statistics.stdev(f1s)


def calibration(top, labels) -> tuple[float, list[tuple[float, float, float]]]:
    """Expected calibration error (10 bins) and, per threshold, coverage and accuracy above it."""
    confidence = np.array([t[0][1] for t in top])
    correct = np.array([t[0][0] == y for t, y in zip(top, labels, strict=True)])
    ece = 0.0
    for low in np.arange(0, 1, 0.1):
        inside = (confidence > low) & (confidence <= low + 0.1)
        if inside.any():
            ece += inside.mean() * abs(correct[inside].mean() - confidence[inside].mean())
    rows = [
        (t, (confidence >= t).mean(), correct[confidence >= t].mean()) for t in (0.5, 0.7, 0.8, 0.9, 0.95)
    ]
    return float(ece), rows


def per_class_table(labels, first, classes) -> list[str]:
    from sklearn.metrics import confusion_matrix, precision_recall_fscore_support

    p, r, f, n = precision_recall_fscore_support(labels, first, labels=classes, zero_division=0)
    lines = ["per class          precision  recall     F1   support"]
    for i, c in enumerate(classes):
        lines.append(f"  {i} {c:\u3000<7}  {p[i]:8.3f} {r[i]:7.3f} {f[i]:7.3f} {n[i]:8d}")
    matrix = confusion_matrix(labels, first, labels=classes)
    lines.append("confusion matrix (rows: true class, columns: predicted, numbered as above)")
    lines.append("       " + "".join(f"{j:>6}" for j in range(len(classes))))
    for i, row in enumerate(matrix):
        lines.append(f"  {i:>3}  " + "".join(f"{v:>6}" for v in row))
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=DATA, help="tipdm2020c_citizen_messages folder")
    parser.add_argument("--cv", action="store_true", help="also 5-fold cross-validation on train.csv")
    parser.add_argument("--rounds", type=int, default=3, help="latency: passes over the test messages")
    args = parser.parse_args()
    setup_django()
    from gongzhi.cases import classifier

    train_rows, _blank = classifier.read_labelled_csv(args.data / "split" / "train.csv")
    test_rows, _blank = classifier.read_labelled_csv(args.data / "split" / "test.csv")
    train_x, train_y = [t for t, _y in train_rows], [y for _t, y in train_rows]
    test_x, test_y = [t for t, _y in test_rows], [y for _t, y in test_rows]
    classes = sorted(set(train_y))

    print(machine())
    print(f"data: {args.data.name}, train {len(train_x):,} / test {len(test_x):,}, {len(classes)} classes")

    t = time.perf_counter()
    ours = classifier.train(train_x, train_y)
    ours_fit = time.perf_counter() - t
    t = time.perf_counter()
    base = Baseline(train_x, train_y)
    base_fit = time.perf_counter() - t

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "model.joblib"
        classifier.save(ours, path)
        size = path.stat().st_size
        t = time.perf_counter()
        classifier.load(path)
        load_s = time.perf_counter() - t

    o, b = scores(ours, test_x, test_y), scores(base, test_x, test_y)
    o_p50, o_p99 = latency_ms(ours, test_x, args.rounds)
    b_p50, b_p99 = latency_ms(base, test_x, args.rounds)
    calls = args.rounds * len(test_x)

    print()
    print(f"{'on split/test.csv':34}{'ours':>10}{'baseline':>10}{'ratio':>9}")
    for name, key in (("accuracy", "accuracy"), ("macro-F1", "macro_f1"), ("top-3 accuracy", "top3")):
        print(f"{name:34}{o[key]:10.4f}{b[key]:10.4f}{o[key] / b[key]:9.3f}")
    errors = (1 - o["macro_f1"]) / (1 - b["macro_f1"])
    print(f"{'1 - macro-F1 (errors)':34}{1 - o['macro_f1']:10.4f}{1 - b['macro_f1']:10.4f}{errors:9.3f}")
    print(f"{'training time (s)':34}{ours_fit:10.1f}{base_fit:10.1f}{ours_fit / base_fit:9.2f}")
    print(f"{'predict_top p50 (ms, 1 text)':34}{o_p50:10.3f}{b_p50:10.3f}{o_p50 / b_p50:9.2f}")
    print(f"{'predict_top p99 (ms, 1 text)':34}{o_p99:10.3f}{b_p99:10.3f}{o_p99 / b_p99:9.2f}")
    print(f"latency over {calls:,} calls ({args.rounds} passes over the test messages)")
    print(
        f"model file: {size / 1e6:.1f} MB (joblib, compressed), loads in {load_s:.2f} s; "
        f"vocabulary {len(ours.vectorizer.vocabulary_):,} n-grams, temperature {ours.temperature:.3f}"
    )

    print()
    for line in per_class_table(test_y, o["first"], classes):
        print(line)
    print()
    print("baseline " + per_class_table(test_y, b["first"], classes)[0])
    for line in per_class_table(test_y, b["first"], classes)[1 : len(classes) + 1]:
        print(line)

    ece, rows = calibration(o["top"], test_y)
    print()
    print(f"calibration of the top probability: expected calibration error {ece:.4f}")
    for threshold, coverage, accuracy in rows:
        print(f"  confidence >= {threshold:.2f}: {coverage:6.1%} of messages, {accuracy:6.1%} of them right")

    if args.cv:
        print()
        print("5-fold cross-validation on train.csv (macro-F1, mean ± sd):")
        mean, sd = cross_validate(train_x, train_y, classifier.train)
        print(f"  ours      {mean:.4f} ± {sd:.4f}")
        mean, sd = cross_validate(train_x, train_y, Baseline)
        print(f"  baseline  {mean:.4f} ± {sd:.4f}")

    print()
    met = {True: "met", False: "MISSED"}
    print(f"budget macro-F1 >= {BUDGET_F1}: {met[o['macro_f1'] >= BUDGET_F1]} ({o['macro_f1']:.4f})")
    print(f"budget p99 < {BUDGET_P99_MS:g} ms: {met[o_p99 < BUDGET_P99_MS]} ({o_p99:.2f} ms)")


if __name__ == "__main__":
    main()
