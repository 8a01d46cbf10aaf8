#!/usr/bin/env python3
"""Peer of `veille bench nlp`: scikit-learn TF-IDF + LinearSVC sentiment classification.

Trains on --train (JSON lines {"text", "label"}), then classifies the texts of --posts
(JSON lines {"text"}): once as one batch (vectorize + predict the whole list) and once one
post at a time (one vectorize + predict call per post), each repeated until --seconds of
process CPU time have passed. Prints one JSON object on stdout; progress on stderr.
Run by veille with OMP/BLAS threads set to 1, so the figures are per core.
"""

import argparse
import json
import sys
import time


def read_jsonl(path):
    with open(path, encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def measure(work, count, seconds):
    """Runs work() (which handles `count` posts) until `seconds` of CPU time passed."""
    done = 0
    cpu = 0.0
    wall = 0.0
    while done == 0 or cpu < seconds:
        cpu_start = time.process_time()
        wall_start = time.perf_counter()
        work()
        cpu += time.process_time() - cpu_start
        wall += time.perf_counter() - wall_start
        done += count
    return {
        "posts": done,
        "cpu_seconds": cpu,
        "wall_seconds": wall,
        "posts_per_cpu_second": done / max(cpu, 1e-9),
    }


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--train", required=True)
    parser.add_argument("--posts", required=True)
    parser.add_argument("--seconds", type=float, default=3.0)
    args = parser.parse_args()

    import sklearn
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.svm import LinearSVC

    train = read_jsonl(args.train)
    texts = [row["text"] for row in read_jsonl(args.posts)]
    print(f"[sklearn] training on {len(train)} texts", file=sys.stderr)
    started = time.process_time()
    vectorizer = TfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True)
    features = vectorizer.fit_transform([row["text"] for row in train])
    model = LinearSVC(C=0.5)
    model.fit(features, [row["label"] for row in train])
    fit_seconds = time.process_time() - started

    def batch():
        model.predict(vectorizer.transform(texts))

    def single():
        for text in texts:
            model.predict(vectorizer.transform([text]))

    print(f"[sklearn] batch over {len(texts)} posts", file=sys.stderr)
    batch_rate = measure(batch, len(texts), args.seconds)
    print("[sklearn] one post at a time", file=sys.stderr)
    single_rate = measure(single, len(texts), args.seconds)
    json.dump(
        {
            "tool": "scikit-learn TfidfVectorizer(1-2 grams) + LinearSVC",
            "sklearn_version": sklearn.__version__,
            "python": sys.version.split()[0],
            "train_examples": len(train),
            "fit_cpu_seconds": fit_seconds,
            "posts": len(texts),
            "batch": batch_rate,
            "single": single_rate,
        },
        sys.stdout,
    )
    print()


if __name__ == "__main__":
    main()
