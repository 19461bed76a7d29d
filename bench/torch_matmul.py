#!/usr/bin/env python3
"""Times, in PyTorch, the same matrix products our benchmark measured: the yardstick of
`scripts/device-bench.sh run`.

It reads our benchmark's JSON report(s), takes every matmul and Gram row that carries its product's
dimensions (m, n, k and which operand is stored transposed), and times that product in float32 with
TF32 off and in bfloat16, on CUDA when PyTorch sees a GPU, else on the CPU. Our benchmark is never
imported, so the shapes come only from the report and cannot drift from what was measured.

Timing: warm-up runs first (cuBLAS heuristics, allocator), then timed runs; the median is reported.
On CUDA each run is timed by CUDA events around the one product (GPU time), and also by the wall
clock around the product and a synchronize (what a caller waits for). On the CPU only the wall clock.
The run stops starting new cases once --budget seconds have passed and records the rest as skipped.

Usage: torch_matmul.py --bench REPORT.json [--bench MORE.json] --out TORCH.json [--budget S]
"""

import argparse
import datetime
import json
import os
import platform
import statistics
import sys
import time

DTYPES = ("float32", "bfloat16")


def now():
    return datetime.datetime.now(datetime.timezone.utc).isoformat()


def cpu_name():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return f"{line.split(':', 1)[1].strip()}, {os.cpu_count()} CPUs"
    except OSError:
        pass
    return platform.processor() or "cpu"


def products(reports):
    """The distinct products of the reports' matmul and Gram rows, in report order."""
    seen = set()
    out = []
    for report in reports:
        for row in report.get("rows", []):
            dims = row.get("product")
            if row.get("kind") not in ("matmul", "gram") or not dims or row.get("error"):
                continue
            key = (row["kind"], dims["m"], dims["n"], dims["k"], dims["transA"], dims["transB"])
            if key in seen:
                continue
            seen.add(key)
            out.append({"group": row["group"], "name": row["name"], "kind": row["kind"], **dims})
    return out


def configure(torch, device):
    """Turns TF32 off (float32 must be float32) and records what the settings read back."""
    settings = {}
    for name, setter in (
        ("cuda.matmul.allow_tf32", lambda: setattr(torch.backends.cuda.matmul, "allow_tf32", False)),
        ("cudnn.allow_tf32", lambda: setattr(torch.backends.cudnn, "allow_tf32", False)),
        ("float32_matmul_precision", lambda: torch.set_float32_matmul_precision("highest")),
    ):
        try:
            setter()
        except Exception as error:  # a renamed setting must not stop the run; it is recorded
            settings[name + ".error"] = repr(error)
    for name, getter in (
        ("cuda.matmul.allow_tf32", lambda: torch.backends.cuda.matmul.allow_tf32),
        ("cudnn.allow_tf32", lambda: torch.backends.cudnn.allow_tf32),
        ("float32_matmul_precision", torch.get_float32_matmul_precision),
        (
            "cuda.matmul.allow_bf16_reduced_precision_reduction",
            lambda: torch.backends.cuda.matmul.allow_bf16_reduced_precision_reduction,
        ),
    ):
        try:
            settings[name] = getter()
        except Exception as error:
            settings[name] = repr(error)
    # The proof that TF32 is off: a float32 product against float64. True float32 accumulation over
    # k = 1024 stays near 1e-6 of the largest value; TF32's 10-bit mantissa gives about 1e-3.
    try:
        gen = torch.Generator(device="cpu").manual_seed(0)
        a = torch.randn(256, 1024, generator=gen, dtype=torch.float64)
        b = torch.randn(1024, 256, generator=gen, dtype=torch.float64)
        got = (a.float().to(device) @ b.float().to(device)).double().cpu()
        ref = a @ b
        settings["fp32CheckRelError"] = float((got - ref).abs().max() / ref.abs().max())
    except Exception as error:
        settings["fp32CheckRelError"] = repr(error)
    return settings


def operands(torch, p, dtype, device, gen):
    """op(A) m×k and op(B) k×n, stored transposed where the row says so (a view, no copy)."""
    m, n, k = p["m"], p["n"], p["k"]

    def stored(rows, cols, trans):
        if trans:
            return torch.randn(cols, rows, generator=gen, device=device, dtype=dtype).t()
        return torch.randn(rows, cols, generator=gen, device=device, dtype=dtype)

    if p["kind"] == "gram":  # G += XᵀX with X rows × width stored plainly: op(A) = Xᵀ, op(B) = X.
        x = torch.randn(k, n, generator=gen, device=device, dtype=dtype)
        return x.t(), x
    return stored(m, k, p["transA"]), stored(k, n, p["transB"])


def time_case(torch, p, dtype_name, device, warmups, runs, case_seconds):
    dtype = getattr(torch, dtype_name)
    gen = torch.Generator(device=device).manual_seed(1)
    a, b = operands(torch, p, dtype, device, gen)
    c = torch.zeros(p["m"], p["n"], device=device, dtype=dtype)
    if p["kind"] == "gram":
        op = lambda: c.addmm_(a, b)  # noqa: E731 — accumulates, as our Gram kernel does
    else:
        op = lambda: torch.mm(a, b, out=c)  # noqa: E731
    cuda = device == "cuda"
    sync = torch.cuda.synchronize if cuda else (lambda: None)
    t0 = time.perf_counter()
    for _ in range(warmups):
        op()
    sync()
    warm_s = time.perf_counter() - t0
    wall, events = [], []
    spent = 0.0
    # At least one timed run; more while this case's time lasts.
    while len(wall) < runs and (not wall or spent < case_seconds):
        if cuda:
            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            sync()
            t = time.perf_counter()
            start.record()
            op()
            end.record()
            sync()
            wall.append((time.perf_counter() - t) * 1e3)
            events.append(start.elapsed_time(end))
        else:
            t = time.perf_counter()
            op()
            wall.append((time.perf_counter() - t) * 1e3)
        spent += wall[-1] / 1e3
    flops = 2 * p["m"] * p["n"] * p["k"]
    ms = statistics.median(events if cuda else wall)
    # The product is checked too, so that a fast path that computes something else cannot pass as
    # speed: its first rows against float64 (a Gram holds 1 + warm-ups + runs accumulations).
    rows = min(16, p["m"])
    ref = a[:rows].double() @ b.double() * (1 if p["kind"] == "matmul" else warmups + len(wall))
    error = float((c[:rows].double() - ref).abs().max() / ref.abs().max())
    return {
        "runs": len(wall),
        "warmups": warmups,
        "warmupSeconds": warm_s,
        "medianMs": ms,
        "minMs": min(events if cuda else wall),
        "wallMedianMs": statistics.median(wall),
        "eventMedianMs": statistics.median(events) if cuda else None,
        "flops": flops,
        "gflops": flops / ms / 1e6,
        "maxRelError": error,
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bench", action="append", required=True, help="our benchmark's JSON report")
    parser.add_argument("--out", required=True, help="where this script's JSON goes")
    parser.add_argument("--budget", type=float, default=120.0, help="seconds after which no case starts")
    parser.add_argument("--device", choices=("auto", "cuda", "cpu"), default="auto")
    parser.add_argument("--runs", type=int, default=None, help="timed runs (default 20 on CUDA, 5 on CPU)")
    args = parser.parse_args()

    started = time.perf_counter()
    result = {"schema": 1, "startedAt": now(), "python": platform.python_version(), "rows": []}

    def write():
        result["finishedAt"] = now()
        with open(args.out, "w") as f:
            json.dump(result, f, indent=2)
            f.write("\n")

    try:
        reports = []
        for path in args.bench:
            with open(path) as f:
                reports.append(json.load(f))
        cases = products(reports)
        import torch

        device = args.device
        if device == "auto":
            device = "cuda" if torch.cuda.is_available() else "cpu"
        cuda = device == "cuda"
        if not cuda:
            # Our CPU adapter (SwiftShader) uses every core; so does the yardstick. Some builds
            # start with one OpenMP thread where the container limits are not read.
            torch.set_num_threads(os.cpu_count() or 1)
        result.update(
            {
                "device": device,
                "deviceName": torch.cuda.get_device_name(0) if cuda else cpu_name(),
                "versions": {
                    "torch": torch.__version__,
                    "cuda": torch.version.cuda,
                    "cudnn": torch.backends.cudnn.version() if cuda else None,
                },
                "threads": torch.get_num_threads(),
                "settings": configure(torch, device),
                "method": (
                    "median of timed runs after warm-ups; CUDA: CUDA events around each product (GPU "
                    "time), wallMedianMs adds launch and synchronize"
                    if cuda
                    else "median of timed runs after warm-ups; wall clock"
                ),
            }
        )
        warmups, runs = (5, args.runs or 20) if cuda else (1, args.runs or 5)
        case_seconds = 2.0 if cuda else 5.0
        for p in cases:
            for dtype in DTYPES:
                row = {**p, "dtype": dtype}
                if time.perf_counter() - started > args.budget:
                    row["error"] = f"skipped: the {args.budget:g} s budget was spent"
                else:
                    try:
                        row.update(time_case(torch, p, dtype, device, warmups, runs, case_seconds))
                        print(
                            f"  torch {dtype:8} {p['group']} · {p['name']}: {row['medianMs']:.4g} ms, "
                            f"{row['gflops']:.4g} GFLOP/s, error {row['maxRelError']:.1e}",
                            file=sys.stderr,
                        )
                    except Exception as error:
                        row["error"] = repr(error)
                        print(f"  torch {dtype} {p['group']} · {p['name']}: {error!r}", file=sys.stderr)
                result["rows"].append(row)
    except Exception as error:
        result["error"] = repr(error)
        write()
        raise
    write()


if __name__ == "__main__":
    main()
