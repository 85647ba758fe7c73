"""End to end: `feedback-miner analyze` against what a BERTopic user runs, on the same CSV, alternating.

    python benchmarks/bench_e2e.py [--n 10000 [2500 40000 ...]] [--repeats 2]
        [--product onnx-int8 [sentence-transformers]] [--proposed jit,knn [--proposed-on onnx-int8]]
        [--no-bertopic] [--bertopic-encode-first] [--no-raw]
        [--data ../shared/data] [--out benchmarks/results/e2e.json]
    python benchmarks/bench_e2e.py --post [--n 10000] [--repeats 3] [--variants "" jit jit,knn ...] [--params JSON]
    python benchmarks/bench_e2e.py --jit [--n 10000]           # first vs second process, clustering only
    python benchmarks/bench_e2e.py --profile [--n 10000] [--runtime onnx-int8] [--proposed ...]  # cProfile, CPU time

Texts: N unique texts drawn evenly from the five shared sets (random.Random(0)), rows the product
would reject (broken encoding) left out; ids and texts go to one CSV that both sides read. Every
measured run is its own child process (benchmarks/_e2e_child.py); within a round the sides run
one after another, the order reversed every round. Per run: wall time, CPU time (user + system of
the child, from os.wait4) and peak RSS (the child's ru_maxrss), and the load average around it.

Sides: ``product[RUNTIME]`` is the shipped CLI (``FM_EMBEDDER=RUNTIME``); ``product[RUNTIME]+X`` the
same with the proposed changes X (benchmarks/_proposed.py) applied; ``bertopic`` the BERTopic
user's path (sentence-transformers ``encode`` at batch 64 with the same local MiniLM model,
BERTopic 0.17.4 defaults given the model object and the embeddings); ``embed[RUNTIME]`` the
runtime alone through the product's embed stage (raw embedding time).

``--post`` runs only what comes after embedding on saved vectors (fast, so it can be repeated),
comparing variants of the proposed changes; ``--jit`` measures a first process (empty numba cache)
against a second one, with and without the JIT cache.
Quality on the side: NMI/ARI of problems/topics against the fine intent labels of the banking77 and
bitext texts in the sample (unclustered texts as singletons). Nothing downloads.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
CHILD = Path(__file__).resolve().parent / "_e2e_child.py"
SETS = ("banking77", "bitext_customer_support", "google_play_app_reviews_4class", "review_pulse",
        "idea_youtube_reviews")
FINE = {"banking77": "label", "bitext_customer_support": "label"}  # intent labels, for NMI/ARI
sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import log


def sample(data: Path, n: int) -> list[dict[str, str]]:
    """N unique usable texts, evenly from the five sets; a set short of its share is topped up by the others."""
    csv.field_size_limit(sys.maxsize)
    pools: list[list[tuple[str, str]]] = []
    seen: set[str] = set()
    for name in SETS:
        with (data / name / f"{name}.csv").open(encoding="utf-8", newline="") as fh:
            rows = [((r.get("text") or "").strip(), (r.get(FINE.get(name, "")) or "").strip()) for r in csv.DictReader(fh)]
        first: dict[str, str] = {}
        for t, lab in rows:
            if t and "\ufffd" not in t and t not in seen:
                first.setdefault(t, lab)
        texts = sorted(first)
        random.Random(0).shuffle(texts)
        pools.append([(t, first[t]) for t in texts])
        seen.update(texts)
    out: list[dict[str, str]] = []
    share = [n // len(SETS)] * len(SETS)
    share[-1] += n - sum(share)
    take = [min(s, len(p)) for s, p in zip(share, pools)]
    while sum(take) < n and any(t < len(p) for t, p in zip(take, pools)):
        k = max(range(len(pools)), key=lambda i: len(pools[i]) - take[i])
        take[k] += 1
    for name, pool, k in zip(SETS, pools, take):
        out += [{"text": t, "source": name, "label": lab} for t, lab in pool[:k]]
    random.Random(0).shuffle(out)
    for i, r in enumerate(out):
        r["id"] = f"t{i:06d}"
    return out


def write_csv(rows: list[dict[str, str]], path: Path) -> None:
    with path.open("w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["id", "text"])
        w.writerows([r["id"], r["text"]] for r in rows)


def run_child(cmd: list[str], env: dict[str, str], log_path: Path) -> dict[str, Any]:
    """Run one process; wall time, CPU (user+sys) and peak RSS of exactly that child via os.wait4."""
    load0 = os.getloadavg()
    t = time.perf_counter()
    with log_path.open("wb") as fh:
        proc = subprocess.Popen(cmd, env=env, cwd=ROOT, stdout=fh, stderr=subprocess.STDOUT)
        _pid, status, ru = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - t
    if proc.returncode:
        raise SystemExit(f"{' '.join(cmd)} failed ({proc.returncode}); see {log_path}:\n"
                         + log_path.read_text(errors="replace")[-3000:])
    return {"wall_s": round(wall, 2), "cpu_s": round(ru.ru_utime + ru.ru_stime, 2),
            "user_s": round(ru.ru_utime, 2), "sys_s": round(ru.ru_stime, 2),
            "peak_rss_mb": round(ru.ru_maxrss / 1024, 0),
            "loadavg_1m_before_after": [round(load0[0], 2), round(os.getloadavg()[0], 2)]}


def child(mode: str, spec: dict[str, Any], work: Path, tag: str, env: dict[str, str]) -> dict[str, Any]:
    spec = {**spec, "report": str(work / f"{tag}.report.json")}
    spec_path = work / f"{tag}.spec.json"
    spec_path.write_text(json.dumps(spec))
    res = run_child([sys.executable, str(CHILD), mode, str(spec_path)], env, work / f"{tag}.log")
    res["child"] = json.loads(Path(spec["report"]).read_text())
    return res


def base_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FM_") and k != "NUMBA_CACHE_DIR"}
    env.update({"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false",
                "PYTHONPATH": str(ROOT)})
    env.update(extra or {})
    return env


def quality(rows: list[dict[str, str]], labels: dict[str, str | None]) -> dict[str, Any]:
    """NMI / ARI against source:intent on the texts that have an intent label; unclustered = singletons."""
    from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score

    truth, pred = [], []
    for r in rows:
        if r["source"] in FINE and r["label"]:
            lab = labels.get(r["id"])
            truth.append(f"{r['source']}:{r['label']}")
            pred.append(lab if lab not in (None, "", "-1") else f"__single_{r['id']}")
    unclustered = sum(1 for v in labels.values() if v in (None, "", "-1")) / max(len(labels), 1)
    return {"n_labelled": len(truth), "nmi": round(float(normalized_mutual_info_score(truth, pred)), 4),
            "ari": round(float(adjusted_rand_score(truth, pred)), 4),
            "unclustered_share_all": round(unclustered, 4), "clusters": len({v for v in labels.values()
                                                                           if v not in (None, "", "-1")})}


def read_labels(path: Path, id_col: str, lab_col: str) -> dict[str, str | None]:
    with path.open(encoding="utf-8", newline="") as fh:
        return {r[id_col]: (r[lab_col] or None) for r in csv.DictReader(fh)}


def run_side(side: str, csv_path: Path, work: Path, tag: str, proposed: list[str]) -> dict[str, Any]:
    out = work / tag
    if side.startswith("product"):
        runtime = side[side.index("[") + 1 : side.index("]")]
        extra = side.split("+", 1)[1].split(",") if "+" in side else []
        env = base_env({"FM_EMBEDDER": runtime})
        res = child("analyze", {"csv": str(csv_path), "out": str(out), "proposed": extra, "clock": True}, work, tag, env)
        res["labels_path"] = str(out / "feedback.csv")
    elif side.startswith("bertopic"):
        res = child("bertopic", {"csv": str(csv_path), "out": str(out), "encode_first": side.endswith("[encode-first]")},
                    work, tag, base_env())
        res["labels_path"] = str(out / "topics.csv")
    else:  # embed[runtime]
        runtime = side[side.index("[") + 1 : side.index("]")]
        res = child("embed", {"csv": str(csv_path), "runtime": runtime}, work, tag, base_env())
    return res


def summarise(runs: list[dict[str, Any]]) -> dict[str, Any]:
    def med(key: str) -> float:
        return round(statistics.median(r[key] for r in runs), 2)

    return {"wall_s_median": med("wall_s"), "cpu_s_median": med("cpu_s"), "peak_rss_mb_max": max(r["peak_rss_mb"] for r in runs),
            "wall_s_all": [r["wall_s"] for r in runs], "cpu_s_all": [r["cpu_s"] for r in runs]}


def e2e(args: argparse.Namespace, n: int, work: Path) -> dict[str, Any]:
    rows = sample(args.data, n)
    csv_path = work / f"texts_{n}.csv"
    write_csv(rows, csv_path)
    log(f"n={n}: {len(rows)} texts -> {csv_path}")
    sides = [f"product[{rt}]" for rt in args.product]
    if args.proposed:
        sides += [f"product[{rt}]+{args.proposed}" for rt in (args.proposed_on or args.product)]
    if not args.no_bertopic:
        sides.append("bertopic")
    if args.bertopic_encode_first:
        sides.append("bertopic[encode-first]")
    if not args.no_raw:
        sides += ["embed[sentence-transformers]", "embed[onnx-int8]"]
    if args.proposed and "jit" in args.proposed:  # the JIT cache is warm in steady state: warm it, unmeasured
        warm_rows = rows[:800]
        write_csv(warm_rows, work / "warm.csv")
        t = time.perf_counter()
        run_side(f"product[onnx-int8]+{args.proposed}", work / "warm.csv", work, "warmup", [])
        log(f"JIT cache warm-up (800 texts, not counted): {time.perf_counter() - t:.1f}s")
    per_side: dict[str, list[dict[str, Any]]] = {s: [] for s in sides}
    for r in range(args.repeats):
        order = sides if r % 2 == 0 else sides[::-1]
        for side in order:
            tag = f"n{n}_r{r}_{side.replace('[', '_').replace(']', '').replace('+', '_').replace(',', '-')}"
            log(f"  round {r + 1}/{args.repeats}: {side} (load {os.getloadavg()[0]:.1f})")
            res = run_side(side, csv_path, work, tag, [])
            if "labels_path" in res:
                lp = Path(res.pop("labels_path"))
                res["quality"] = quality(rows, read_labels(lp, "id", "topic" if side.startswith("bertopic") else "problem_id"))
            log(f"    wall {res['wall_s']}s cpu {res['cpu_s']}s rss {res['peak_rss_mb']:.0f}MB "
                f"{res.get('quality', '')}")
            per_side[side].append(res)
    summary = {s: summarise(v) for s, v in per_side.items()}
    ratios: dict[str, Any] = {}
    for s in sides:
        if not s.startswith("product"):
            continue
        rt = s[s.index("[") + 1 : s.index("]")]
        for b in ("bertopic", "bertopic[encode-first]"):
            if b in summary:
                ratios[f"{b}/{s}"] = {
                    "wall": round(summary[b]["wall_s_median"] / summary[s]["wall_s_median"], 2),
                    "cpu": round(summary[b]["cpu_s_median"] / summary[s]["cpu_s_median"], 2)}
        raw = per_side.get(f"embed[{rt}]")
        if raw:
            raw_wall = statistics.median(x["child"]["embed_wall_s"] for x in raw)
            raw_cpu = statistics.median(x["child"]["embed_cpu_s"] for x in raw)
            ratios[f"{s} throughput / raw {rt} embedding throughput"] = {
                "wall": round(raw_wall / summary[s]["wall_s_median"], 2),
                "cpu": round(raw_cpu / summary[s]["cpu_s_median"], 2)}
    return {"n": len(rows), "csv": str(csv_path), "sources": dict.fromkeys(SETS, 0) | {
        k: sum(1 for r in rows if r["source"] == k) for k in SETS}, "sides": sides, "runs": per_side,
        "summary": summary, "ratios": ratios}


def texts_and_vectors(args: argparse.Namespace, n: int, work: Path) -> tuple[list[dict[str, str]], Path, Path]:
    """The ``n`` sampled rows, the CSV both sides read, and their vectors saved once (embedded in a child)."""
    rows = sample(args.data, n)
    csv_path = work / f"texts_{n}.csv"
    write_csv(rows, csv_path)
    vec = work / f"vectors_{n}_{args.runtime}.npy"
    if not vec.exists():
        child("embed", {"csv": str(csv_path), "runtime": args.runtime, "save": str(vec)}, work, f"vec{n}", base_env())
    return rows, csv_path, vec


def post(args: argparse.Namespace, n: int, work: Path) -> dict[str, Any]:
    """Post-embedding only, on vectors saved once; variants alternate; labels compared with the first."""
    rows, csv_path, vec = texts_and_vectors(args, n, work)
    variants = [v.strip() for v in args.variants]
    if any("jit" in v for v in variants):  # warm the cache (steady state), unmeasured
        child("cluster", {"csv": str(csv_path), "vectors": str(vec), "out": str(work / "warm.json"),
                          "proposed": ["jit", "knn"]}, work, "warm_knn", base_env())
        child("cluster", {"csv": str(csv_path), "vectors": str(vec), "out": str(work / "warm.json"),
                          "proposed": ["jit"]}, work, "warm_plain", base_env())
    res: dict[str, list[dict[str, Any]]] = {v: [] for v in variants}
    for r in range(args.repeats):
        for v in (variants if r % 2 == 0 else variants[::-1]):
            tag = f"post{n}_r{r}_{v.replace(',', '-') or 'shipped'}"
            out = work / f"{tag}.labels.json"
            x = child("cluster", {"csv": str(csv_path), "vectors": str(vec), "out": str(out), "runtime": args.runtime,
                                  "proposed": [p for p in v.split(",") if p],
                                  "params": json.loads(args.params)}, work, tag, base_env())
            x["labels"] = str(out)
            log(f"  round {r + 1}: [{v or 'shipped'}] post-embedding cpu {x['child']['post_embedding_cpu_s']}s "
                f"wall {x['child']['post_embedding_wall_s']}s; process cpu {x['cpu_s']}s rss {x['peak_rss_mb']:.0f}MB")
            res[v].append(x)
    ref = json.loads(Path(res[variants[0]][0]["labels"]).read_text())
    summary: dict[str, Any] = {}
    from sklearn.metrics import adjusted_rand_score

    for v, xs in res.items():
        got = json.loads(Path(xs[0]["labels"]).read_text())
        a = [p or f"_{i}" for i, p in enumerate(ref["problem_of"])]
        b = [p or f"_{i}" for i, p in enumerate(got["problem_of"])]
        lab = {r["id"]: p for r, p in zip(rows, got["problem_of"])}
        summary[v or "shipped"] = {
            "post_embedding_cpu_s_median": round(statistics.median(x["child"]["post_embedding_cpu_s"] for x in xs), 2),
            "post_embedding_wall_s_median": round(statistics.median(x["child"]["post_embedding_wall_s"] for x in xs), 2),
            "process_cpu_s_median": round(statistics.median(x["cpu_s"] for x in xs), 2),
            "peak_rss_mb_max": max(x["peak_rss_mb"] for x in xs),
            "same_labels_as_first_variant": a == b, "ari_vs_first_variant": round(float(adjusted_rand_score(a, b)), 4),
            "same_titles_as_first_variant": got["titles"] == ref["titles"],
            "quality": quality(rows, lab), "stages_cpu_s_first_run": {
                k: s["cpu_s"] for k, s in xs[0]["child"]["stages"].items()}}
        log(f"[{v or 'shipped'}] {summary[v or 'shipped']}")
    return {"n": len(rows), "runtime": args.runtime, "variants": variants, "runs": res, "summary": summary}


def jit(args: argparse.Namespace, n: int, work: Path) -> dict[str, Any]:
    """First process (empty cache) vs second process, clustering only, with and without the JIT cache."""
    rows, csv_path, vec = texts_and_vectors(args, n, work)
    out: dict[str, Any] = {}
    for r in range(args.repeats):
        for variant in (["", "jit"] if r % 2 == 0 else ["jit", ""]):
            cache_home = Path(tempfile.mkdtemp(prefix="fm-jit-", dir=work))
            env = base_env({"XDG_CACHE_HOME": str(cache_home)})
            for which in ("first", "second"):
                tag = f"jit{n}_r{r}_{variant or 'off'}_{which}"
                x = child("cluster", {"csv": str(csv_path), "vectors": str(vec), "out": str(work / f"{tag}.json"),
                                      "proposed": [variant] if variant else []}, work, tag, env)
                st = x["child"]["stages"]
                rec = {"process_cpu_s": x["cpu_s"], "process_wall_s": x["wall_s"],
                       "post_embedding_cpu_s": x["child"]["post_embedding_cpu_s"],
                       "imports_cpu_s": x["child"]["imports_cpu_s"],
                       "jit_compile_or_load_cpu_s": st.get("numba JIT compile/load", {}).get("cpu_s", 0.0),
                       "cluster_cpu_s": st.get("cluster (UMAP+HDBSCAN)", {}).get("cpu_s"),
                       "loadavg_1m": x["loadavg_1m_before_after"]}
                out.setdefault(f"{variant or 'no cache'} / {which} process", []).append(rec)
                log(f"  {variant or 'no cache'} {which}: {rec}")
    return {"n": len(rows), "runtime": args.runtime, "runs": out}


PROFILE_KEYS = (  # (file suffix, function) -> label, for the profile summary
    ("cli/ingest.py", "analyze", "analyze command (all)"), ("bootstrap.py", "make_embedder", "load embedding model"),
    ("bootstrap.py", "classifier", "load classifier"), ("services/analyze_file.py", "analyze_file", "analyze_file"),
    ("adapters/readers.py", "read_rows", "read file"), ("stages/ingest.py", "parse_rows", "validate + redact"),
    ("stages/embed.py", "embed_texts", "embed"), ("stages/classify.py", "predict", "classify"),
    ("stages/problems.py", "find_problems", "find problems"), ("stages/cluster.py", "cluster_embeddings", "cluster"),
    ("umap/umap_.py", "fit_transform", "UMAP"), ("sklearn/metrics/pairwise.py", "pairwise_distances",
                                                 "UMAP small-data distance matrix (sklearn callable)"),
    ("umap/umap_.py", "fuzzy_simplicial_set", "UMAP fuzzy simplicial set"),
    ("umap/umap_.py", "simplicial_set_embedding", "UMAP embedding (spectral + SGD)"),
    ("umap/spectral.py", "spectral_layout", "UMAP spectral init"),
    ("umap/layouts.py", "optimize_layout_euclidean", "UMAP SGD epochs"),
    ("hdbscan/hdbscan_.py", "fit", "HDBSCAN"), ("numba/core/dispatcher.py", "_compile_for_args", "numba compile/load"),
    ("stages/describe.py", "keywords_by_cluster", "keywords"),
    ("stages/describe.py", "diverse_quotes", "quotes"),
    ("services/analysis.py", "attach_satisfaction", "satisfaction"), ("services/analysis.py", "digest_of", "digest"),
    ("adapters/render.py", "render_digest", "render digest"), ("<frozen importlib._bootstrap>", "_find_and_load", "imports"),
)


def profile(args: argparse.Namespace, n: int, work: Path) -> dict[str, Any]:
    """One `analyze` under cProfile with a CPU-time clock; cumulative CPU of the stages, top functions."""
    import pstats

    rows = sample(args.data, n)
    csv_path = work / f"texts_{n}.csv"
    write_csv(rows, csv_path)
    proposed = [p for p in args.proposed.split(",") if p]
    tag = f"profile{n}_{args.runtime}_{'-'.join(proposed) or 'shipped'}"
    prof = work / f"{tag}.prof"
    x = child("analyze", {"csv": str(csv_path), "out": str(work / tag), "proposed": proposed, "cprofile": str(prof)},
              work, tag, base_env({"FM_EMBEDDER": args.runtime}))
    st = pstats.Stats(str(prof))
    stats: dict[tuple[str, int, str], tuple[Any, ...]] = st.stats  # type: ignore[attr-defined]
    cum: dict[str, float] = {}
    for (file, _line, fn), (_cc, _nc, _tt, ct, _callers) in stats.items():
        for suffix, name, label in PROFILE_KEYS:
            if fn == name and file.endswith(suffix):
                cum[label] = max(cum.get(label, 0.0), ct)
    top_cum = sorted(stats.items(), key=lambda kv: -kv[1][3])[:40]
    top_tot = sorted(stats.items(), key=lambda kv: -kv[1][2])[:30]

    def fmt(k: tuple[str, int, str], v: tuple[Any, ...]) -> dict[str, Any]:
        return {"function": f"{Path(k[0]).name}:{k[1]}:{k[2]}", "calls": v[1], "self_cpu_s": round(v[2], 2),
                "cumulative_cpu_s": round(v[3], 2)}

    out = {"n": len(rows), "runtime": args.runtime, "proposed": proposed, "process": {k: x[k] for k in (
        "wall_s", "cpu_s", "peak_rss_mb", "loadavg_1m_before_after")}, "profile_file": str(prof),
        "cumulative_cpu_s": {k: round(v, 2) for k, v in sorted(cum.items(), key=lambda kv: -kv[1])},
        "top_cumulative": [fmt(k, v) for k, v in top_cum], "top_self": [fmt(k, v) for k, v in top_tot]}
    for k, v in out["cumulative_cpu_s"].items():
        log(f"  {v:8.2f} s  {k}")
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    ap.add_argument("--n", type=int, nargs="+", default=[10_000])
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--product", nargs="+", default=None, help="runtimes of the product sides (default: the setting)")
    ap.add_argument("--proposed", default="", help="also run the product with these changes, e.g. jit,knn")
    ap.add_argument("--proposed-on", nargs="+", default=None, help="runtimes to run with --proposed (default all)")
    ap.add_argument("--no-bertopic", action="store_true")
    ap.add_argument("--bertopic-encode-first", action="store_true",
                    help="also BERTopic with encode() before importing bertopic (a conservative variant)")
    ap.add_argument("--no-raw", action="store_true")
    ap.add_argument("--post", action="store_true", help="post-embedding variants only")
    ap.add_argument("--jit", action="store_true", help="first vs second process, JIT cache on/off")
    ap.add_argument("--profile", action="store_true", help="one analyze under cProfile (CPU time)")
    ap.add_argument("--variants", nargs="+", default=["", "jit", "jit,knn"])
    ap.add_argument("--params", default="{}", help='--post: ClusterParams overrides as JSON, e.g. \'{"selection": "leaf"}\'')
    ap.add_argument("--runtime", default="onnx-int8", help="runtime of the saved vectors (--post, --jit)")
    ap.add_argument("--work", type=Path, default=None, help="keep the CSVs, outputs and logs here")
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "e2e.json")
    args = ap.parse_args()
    if args.product is None:
        from feedback_miner.config import Settings

        args.product = [Settings().embedder]
    work = args.work or Path(tempfile.mkdtemp(prefix="fm-e2e-"))
    work.mkdir(parents=True, exist_ok=True)
    kind = "post" if args.post else "jit" if args.jit else "profile" if args.profile else "e2e"
    result = json.loads(args.out.read_text()) if args.out.exists() else {}
    for n in args.n:
        load0 = os.getloadavg()
        t = time.perf_counter()
        res = {"post": post, "jit": jit, "profile": profile, "e2e": e2e}[kind](args, n, work)
        if kind == "profile":
            kind_key = f"profile[{args.runtime}{'+' + args.proposed if args.proposed else ''}]"
            result.setdefault(kind_key, {})[str(n)] = res
        res.update({"command": "python benchmarks/bench_e2e.py " + " ".join(sys.argv[1:]),
                    "date": datetime.now(UTC).isoformat(timespec="seconds"), "took_s": round(time.perf_counter() - t, 1),
                    "machine": {"cpus": os.cpu_count(), "python": sys.version.split()[0],
                                "loadavg_1_5_15_before": [round(x, 2) for x in load0],
                                "loadavg_1_5_15_after": [round(x, 2) for x in os.getloadavg()]}})
        if kind != "profile":
            result.setdefault(kind, {})[str(n)] = res
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result, indent=1) + "\n")
        log(f"n={n} done in {res['took_s']}s; wrote {args.out} ({kind}); summary: "
            f"{json.dumps(res.get('summary', res.get('runs')), indent=None)[:2000]}")
        if "ratios" in res:
            log(f"ratios: {res['ratios']}")


if __name__ == "__main__":
    main()
