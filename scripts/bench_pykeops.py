# pykeops 2.3's side of `bash scripts/bench.sh --vs-pykeops`: its timings, the agreement check and the table.
#
# `bench_pykeops.py run --case CASE --dir DIR [--reps R]` reads DIR/CASE_{x,y,b,out}.npy (written by
# `target/release/examples/bench --save DIR`), times pykeops' CPU backend on the same x, y, b and
# prints one JSON line like our bench, with the largest relative difference between both outputs.
# `bench_pykeops.py table FILE` prints the table from a file of both benches' JSON lines.
# pykeops.numpy is used so that torch (several GB) is not needed.
import argparse
import json
import os
import sys
import time

import numpy as np

# The same formulas, aliases and reductions as `case` in engine/examples/bench.rs, written in the
# same KeOps syntax (Genred rather than LazyTensor, so that pykeops compiles exactly these
# formulas and not an equivalent of its own spelling): name -> (formula, aliases, reduction, opt_arg).
CASES = {
    "gauss": ("Exp(-SqDist(x,y))*b", ["x = Vi(3)", "y = Vj(3)", "b = Vj(1)"], "Sum", None),
    "lse": ("-SqDist(x,y)", ["x = Vi(3)", "y = Vj(3)"], "LogSumExp", None),
    "argkmin": ("SqDist(x,y)", ["x = Vi(3)", "y = Vj(3)"], "ArgKMin", 10),
    "cauchy": ("b / (1 + SqDist(x,y))", ["x = Vi(3)", "y = Vj(3)", "b = Vj(1)"], "Sum", None),
}


def load(directory, case):
    """The inputs our bench used, and its output, as saved by its --save flag."""
    names = ["x", "y", "b"] if "b = Vj(1)" in CASES[case][1] else ["x", "y"]
    inputs = [np.ascontiguousarray(np.load(os.path.join(directory, f"{case}_{n}.npy"))) for n in names]
    return inputs, np.load(os.path.join(directory, f"{case}_out.npy"))


def agreement(case, x, y, ours, theirs):
    """The largest difference relative to the largest magnitude; for argKmin, on the squared
    distances of the K neighbours found (indices of near-equal distances may legitimately swap),
    together with the share of rows whose index lists differ."""
    if case == "argkmin":
        i_ours, i_theirs = ours.astype(np.int64), theirs.astype(np.int64)
        x64, y64 = x.astype(np.float64), y.astype(np.float64)
        d_ours = ((x64[:, None, :] - y64[i_ours]) ** 2).sum(-1)
        d_theirs = ((x64[:, None, :] - y64[i_theirs]) ** 2).sum(-1)
        rel = np.abs(d_ours - d_theirs).max() / np.abs(d_theirs).max()
        return float(rel), float((i_ours != i_theirs).any(axis=1).mean())
    ours, theirs = ours.astype(np.float64), theirs.astype(np.float64)
    return float(np.abs(ours - theirs).max() / np.abs(theirs).max()), None


def run(args):
    # Quiet before the import, which otherwise prints its CUDA warning among the JSON lines.
    os.environ["PYKEOPS_VERBOSE"] = os.environ["KEOPS_VERBOSE"] = "0"
    import pykeops
    from pykeops.numpy import Genred

    # The compiled formulas go under target/ (git-ignored) rather than ~/.cache, and the path must be
    # absolute: pykeops #includes its generated sources by this path.
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    pykeops.set_build_folder(os.path.join(root, "target", "keops-build"))
    formula, aliases, reduction, opt_arg = CASES[args.case]
    routine = Genred(formula, aliases, reduction_op=reduction, axis=1, opt_arg=opt_arg)
    inputs, ours = load(args.dir, args.case)
    # A warm-up on a few points: the first call compiles the formula with g++ (~10 s, then cached)
    # and loads the library, neither of which belongs in the timing.
    routine(*[a[:200] for a in inputs], backend="CPU")
    best, out = float("inf"), None
    for _ in range(max(args.reps, 1)):
        t = time.perf_counter()
        out = routine(*inputs, backend="CPU")
        best = min(best, time.perf_counter() - t)
    n, m = inputs[0].shape[0], inputs[1].shape[0]
    rel, mismatch = agreement(args.case, inputs[0], inputs[1], ours, out)
    record = {
        "case": args.case,
        "n": n,
        "m": m,
        "dim": inputs[0].shape[1],
        "dtype": "f32" if inputs[0].dtype == np.float32 else str(inputs[0].dtype),
        "backend": f"pykeops-{pykeops.__version__}-cpu",
        "threads": int(os.environ.get("OMP_NUM_THREADS", os.cpu_count())),
        "seconds": round(best, 6),
        "gpairs_per_s": round(n * m / best / 1e9, 4),
        "max_rel_diff": float(f"{rel:.3e}"),
    }
    if mismatch is not None:
        record["rows_with_other_indices"] = mismatch
    print(json.dumps(record, separators=(",", ":")))


def table(args):
    """One row per case: the lines of both benches are told apart by their backend field."""
    ours, theirs = {}, {}
    for line in open(args.file):
        if not line.startswith("{"):
            continue
        r = json.loads(line)
        (theirs if r["backend"].startswith("pykeops") else ours)[r["case"]] = r
    print(f"{'case':<10}{'pykeops G pairs/s':>19}{'noyau G pairs/s':>17}{'noyau/pykeops':>15}{'max rel diff':>14}")
    for case in CASES:
        if case in ours and case in theirs:
            p, q = theirs[case]["gpairs_per_s"], ours[case]["gpairs_per_s"]
            print(f"{case:<10}{p:>19.4f}{q:>17.4f}{q / p:>14.2f}×{theirs[case]['max_rel_diff']:>14.1e}")


def main():
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("run")
    p.add_argument("--case", choices=CASES, required=True)
    p.add_argument("--dir", required=True)
    p.add_argument("--reps", type=int, default=2)
    p.set_defaults(func=run)
    p = sub.add_parser("table")
    p.add_argument("file")
    p.set_defaults(func=table)
    args = parser.parse_args()
    args.func(args)


if __name__ == "__main__":
    sys.exit(main())
