"""Time dense, ADP, static, random and FastV side by side, in one process, on the same inputs.

Prints a table — visual tokens, sequence length, TFLOPs, median and p90 per stage, speed-up against dense (LLM
stage and whole chunk), the FLOPs ratio it should approach, and the action deviation from dense — and writes
everything to a JSON file.

Rows: `static`, `random` and `fastv` prune every chunk at each keep ratio; `adp` runs the action-aware gate over
a synthetic pick-and-place end-effector trajectory, so its row mixes the dense and pruned chunks the gate chose
(pruned fraction shown): its times are the median dense chunk and the median pruned chunk of that row, weighted by
the pruned fraction (what a run costs per chunk; the plain median of a mix is one of the two). Every time and
speed-up is computed from these medians. All rows run interleaved over the whole run.

Sizes: without --model a mid-size random checkpoint is built (CPU-friendly: the LLM dominates, so speed-ups are
visible); --model DIR times a real checkpoint; --full builds the full-size architecture with random weights
directly on the device (CUDA, ~16 GB in bf16). --quick: fewer chunks (one ρ, 3 timed chunks, a 12-chunk gate
run), for a first look; the run's expected duration is printed before the timed chunks start.
"""

from __future__ import annotations

import argparse
import json
import platform as host
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from adp_ros.core.diagnostics import MODEL_STAGES
from adp_ros.core.params import ACCELERATIONS, DTYPES
from adp_ros.tools.common import float_list

STAGE_NAMES = (*MODEL_STAGES, "total")
# Defaults of the full run and of --quick; an explicit flag wins over both.
FULL_RUN = {"keep_ratios": [0.3, 0.5, 0.7], "iters": 10, "warmup": 2, "gate_chunks": 24}
QUICK_RUN = {"keep_ratios": [0.5], "iters": 3, "warmup": 1, "gate_chunks": 12}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from adp_ros.core.platform import PRESETS

    parser.add_argument("--model", type=Path, help="checkpoint directory (default: a mid-size random model)")
    parser.add_argument("--full", action="store_true", help="full-size architecture, random weights (CUDA)")
    parser.add_argument("--preset", choices=sorted(PRESETS), default="libero")
    parser.add_argument("--modes", default="dense,adp,static,random,fastv", help="comma-separated modes")
    parser.add_argument("--keep-ratios", type=float_list, help="ρ values, e.g. 0.3,0.5 (default 0.3,0.5,0.7)")
    parser.add_argument("--iters", type=int, help="timed chunks per row (default 10)")
    parser.add_argument("--warmup", type=int, help="untimed chunks per row first (default 2)")
    parser.add_argument("--gate-chunks", type=int, help="chunks in the ADP gated run (default 24)")
    parser.add_argument(
        "--quick",
        action="store_true",
        help="a short run: ρ 0.5, 3 timed chunks after 1 warm-up, a 12-chunk gate run (flags above still win)",
    )
    parser.add_argument(
        "--fastv-layer",
        type=int,
        default=None,
        help="FastV K (default: 2 of 32 layers as in the FastV paper, scaled to the LLM depth)",
    )
    parser.add_argument("--device", default="auto")
    parser.add_argument("--dtype", default="auto", choices=DTYPES)
    parser.add_argument("--acceleration", default="auto", choices=ACCELERATIONS)
    parser.add_argument("--json", type=Path, default=Path("bench_results.json"), help="where to write results")


@dataclass
class Row:
    mode: str
    keep_ratio: float
    timings: dict[str, list[float]] = field(default_factory=dict)
    pruned: list[bool] = field(default_factory=list)
    """Per timed chunk, whether it ran pruned (in the order of `timings`)."""
    vision_tokens: float = 0.0
    sequence: float = 0.0
    tflops_total: float = 0.0
    tflops_llm: float = 0.0
    action_deviation: float = 0.0
    pruned_fraction: float = 0.0

    def median(self, stage: str) -> float:
        """The median chunk; for a row mixing dense and pruned chunks (`adp`), the median of each kind weighted
        by how often the row ran it: the plain median of a two-valued mix is one of the two, not a run's cost."""
        times = self.timings[stage]
        if len(self.pruned) != len(times) or all(self.pruned) or not any(self.pruned):
            return statistics.median(times)
        pruned = [t for t, p in zip(times, self.pruned, strict=True) if p]
        dense = [t for t, p in zip(times, self.pruned, strict=True) if not p]
        fraction = len(pruned) / len(times)
        return fraction * statistics.median(pruned) + (1 - fraction) * statistics.median(dense)

    def p90(self, stage: str) -> float:
        return float(np.percentile(self.timings[stage], 90))


def mid_size_spec():
    """An LLM-dominated model, ~0.4 s per dense LIBERO chunk on two CPU cores.

    Wide, with a 4× MLP: attention's share of the LLM FLOPs grows like L / (6·d) and small matrix products run
    below peak on a CPU, so a narrow model would weigh both far more than the 7B one does (attention 2.4 %);
    here attention is 6.7 % of the dense LLM.
    """
    from adp_ros.model.tiny import TinySpec

    return TinySpec(
        dino_dim=96,
        siglip_dim=96,
        vision_depth=4,
        vision_heads=4,
        llm_dim=1024,
        llm_layers=3,
        llm_heads=16,
        llm_intermediate=4096,
    )


def cpu_name(cpuinfo: Path = Path("/proc/cpuinfo")) -> str:
    """The CPU model ("AMD EPYC 7B13"): `platform.processor()` is empty on Linux, so /proc/cpuinfo first."""
    try:
        for line in cpuinfo.read_text(errors="replace").splitlines():
            key, _, value = line.partition(":")
            if key.strip() in ("model name", "Model", "Hardware") and value.strip():
                return value.strip()
    except OSError:
        pass
    return host.processor() or host.machine()


def interleave(lengths: list[int]) -> list[tuple[int, int]]:
    """(row, chunk) in run order: every row's chunks spread evenly over the whole run, so slow drifts and other
    processes hit every row alike, whatever their lengths (the gated row runs more chunks than the others)."""
    rounds = max(lengths, default=0)
    order = []
    for r in range(rounds):
        for i, n in enumerate(lengths):
            order += [(i, k) for k in range(r * n // rounds, (r + 1) * n // rounds)]
    return order


def _duration(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 90 else f"{seconds / 60:.1f} min"


def pick_and_place_trajectory(n_chunks: int, chunk_len: int) -> np.ndarray:
    """End-effector xyz per step: coarse reach, fine approach, still grasp, coarse transport, fine place."""
    speeds = [0.02, 0.02, 0.02, 0.003, 0.003, 0.0, 0.0, 0.025, 0.025, 0.025, 0.004, 0.0]  # metres per step
    per_chunk = [speeds[int(i * len(speeds) / n_chunks)] for i in range(n_chunks)]
    steps = np.repeat(per_chunk, chunk_len)
    direction = np.array([0.6, 0.0, -0.8])
    return np.vstack([np.zeros(3), np.cumsum(steps[:, None] * direction, axis=0)])


def _build_policy(args: argparse.Namespace, platform, workdir: Path):
    from adp_ros.model.config import PolicyConfig
    from adp_ros.model.policy import OftPolicy
    from adp_ros.model.tiny import make_tiny_checkpoint

    kw = {"device": args.device, "dtype": args.dtype, "acceleration": args.acceleration}
    if args.full:
        import json as _json

        from adp_ros.model.openvla_oft import VlaArchitecture

        config = _json.loads(_released_config().read_text())
        config["text_config"]["torch_dtype"] = "bfloat16"
        arch = VlaArchitecture.from_config(config)
        return OftPolicy.random_weights(PolicyConfig(workdir, platform, **kw), arch), "full-size random"
    if args.model is None:
        ckpt = make_tiny_checkpoint(workdir / "mid", platform, mid_size_spec())
        return OftPolicy(PolicyConfig(ckpt, platform, **kw)), "mid-size random (adp-ros bench default)"
    return OftPolicy(PolicyConfig(args.model, platform, **kw)), str(args.model)


def _released_config() -> Path:
    # The released LIBERO config.json ships with the tests' fixtures; the architecture is the same for ALOHA.
    here = Path(__file__).resolve()
    for root in (here.parents[2], Path.cwd()):
        path = root / "test" / "fixtures" / "oft_released_keys" / "config.json"
        if path.is_file():
            return path
    from adp_ros.core.errors import InputError

    raise InputError("--full needs test/fixtures/oft_released_keys/config.json (run from the repository)")


def run(args: argparse.Namespace) -> int:
    import torch
    from tqdm import tqdm

    from adp_ros.core.errors import InputError
    from adp_ros.core.gate import get_gate_preset, replay_trajectory
    from adp_ros.core.platform import get_platform
    from adp_ros.core.pruning import PRUNE_MODES, PruneConfig
    from adp_ros.model.policy import Observation

    for key, value in (QUICK_RUN if args.quick else FULL_RUN).items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    for m in modes:
        if m not in PRUNE_MODES:
            raise InputError(f"unknown mode {m!r} in --modes (choose from {', '.join(PRUNE_MODES)})")
    if args.iters < 1 or args.gate_chunks < 1 or args.warmup < 0:
        raise InputError(
            f"--iters {args.iters}, --gate-chunks {args.gate_chunks}, --warmup {args.warmup}: the first two must be "
            ">= 1, --warmup >= 0"
        )
    platform = get_platform(args.preset)
    with tempfile.TemporaryDirectory() as tmp:
        policy, what = _build_policy(args, platform, Path(tmp))
        if args.fastv_layer is None:
            args.fastv_layer = max(1, round(2 * policy.arch.llm.num_hidden_layers / 32))
        rng = np.random.default_rng(0)
        frames = [rng.integers(0, 255, (256, 256, 3), dtype=np.uint8) for _ in range(platform.num_images)]
        proprio = (policy.norm_stats.proprio.low + policy.norm_stats.proprio.high) / 2
        ids = [1, 512, 29901, 1724, 3158, 881, 278, 19964, 2125, 304, 5839, 701, 278, 4628, 12580, 29973, 13, 3744]
        ids = [*ids, 29901]
        obs = Observation(images=frames, proprio=proprio, prompt_ids=ids)

        configs: list[tuple[str, float]] = []
        for mode in modes:
            configs += [("dense", 1.0)] if mode == "dense" else [(mode, r) for r in args.keep_ratios]
        dense_actions = policy.predict(obs).normalized_actions  # the first call also sets things up: not timed
        start = time.perf_counter()
        policy.predict(obs)
        dense_sec = time.perf_counter() - start
        gate_states = [
            d.is_pruned
            for d in replay_trajectory(
                pick_and_place_trajectory(args.gate_chunks, platform.chunk_len),
                platform.chunk_len,
                get_gate_preset("default"),
            )[: args.gate_chunks]
        ]
        schedules = [gate_states if mode == "adp" else [mode != "dense"] * args.iters for mode, _ in configs]
        prunes = [
            None if mode == "dense" else PruneConfig(mode=mode, keep_ratio=ratio, fastv_layer=args.fastv_layer)
            for mode, ratio in configs
        ]
        rows = [Row(mode, ratio, {s: [] for s in STAGE_NAMES}) for mode, ratio in configs]
        keys = ("dev", "fl", "ft", "tok", "seq", "pruned")
        samples: list[dict[str, list[float]]] = [{k: [] for k in keys} for _ in configs]
        total = len(configs) * args.warmup + sum(len(s) for s in schedules)
        print(
            f"adp-ros bench: {len(configs)} rows, {total} chunks; one dense chunk took {dense_sec:.2f} s, so about "
            f"{_duration(total * dense_sec)} (pruned chunks are faster){'' if args.quick else '; --quick: shorter'}",
            file=sys.stderr,
        )
        progress = tqdm(total=total, desc="bench", unit="chunk", file=sys.stderr, leave=False)
        for _ in range(args.warmup):
            for prune in prunes:
                policy.predict(obs, prune)
                progress.update()
        for i, step in interleave([len(s) for s in schedules]):
            prune = prunes[i]
            out = policy.predict(obs, prune.for_chunk(schedules[i][step]) if prune else None)
            for s in STAGE_NAMES:
                rows[i].timings[s].append(out.timings_ms.get(s, 0.0))
            rows[i].pruned.append(bool(out.pruned))
            for key, value in (
                ("dev", float(np.abs(out.normalized_actions - dense_actions).max())),
                ("fl", out.flops.llm),
                ("ft", out.flops.total),
                ("tok", out.tokens.vision_kept),
                ("seq", out.tokens.sequence),
                ("pruned", float(out.pruned)),
            ):
                samples[i][key].append(value)
            progress.update()
        for row, sample in zip(rows, samples, strict=True):
            row.vision_tokens = float(np.mean(sample["tok"]))
            row.sequence = float(np.mean(sample["seq"]))
            row.tflops_llm = float(np.mean(sample["fl"])) / 1e12
            row.tflops_total = float(np.mean(sample["ft"])) / 1e12
            row.action_deviation = max(sample["dev"])
            row.pruned_fraction = float(np.mean(sample["pruned"]))
        progress.close()

    dense = next((r for r in rows if r.mode == "dense"), None)
    report = _report(rows, dense)
    meta = {
        "model": what,
        "preset": platform.name,
        "device": str(policy.device),
        "device_name": torch.cuda.get_device_name(policy.device) if policy.device.type == "cuda" else cpu_name(),
        "dtype": str(policy.dtype).removeprefix("torch."),
        "acceleration": "cuda_graph" if policy.graphs.enabled else "eager",
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "iters": args.iters,
        "warmup": args.warmup,
        "date": time.strftime("%Y-%m-%d %H:%M:%S"),
        "gate_preset": "default",
        "gate_chunks": args.gate_chunks,
        "quick": args.quick,
    }
    args.json.write_text(json.dumps({"meta": meta, "rows": report}, indent=2))
    _print(meta, report)
    print(f"\nwrote {args.json}")
    return 0


def _report(rows: list[Row], dense: Row | None) -> list[dict]:
    out = []
    for r in rows:
        entry = {
            "mode": r.mode,
            "keep_ratio": r.keep_ratio,
            "pruned_fraction": r.pruned_fraction,
            "vision_tokens": r.vision_tokens,
            "sequence": r.sequence,
            "tflops_total": r.tflops_total,
            "tflops_llm": r.tflops_llm,
            "median_ms": {s: r.median(s) for s in STAGE_NAMES},
            "mean_ms": {s: statistics.fmean(r.timings[s]) for s in STAGE_NAMES},
            "p90_ms": {s: r.p90(s) for s in STAGE_NAMES},
            "action_deviation_vs_dense": r.action_deviation,
        }
        if dense is not None:
            # From the medians the table prints (`Row.median`: a gated row weights its dense and pruned medians).
            entry["speedup_llm"] = dense.median("llm") / r.median("llm")
            entry["speedup_total"] = dense.median("total") / r.median("total")
            entry["flops_ratio_llm"] = dense.tflops_llm / r.tflops_llm
            entry["flops_ratio_total"] = dense.tflops_total / r.tflops_total
            entry["llm_efficiency"] = entry["speedup_llm"] / entry["flops_ratio_llm"]
        out.append(entry)
    return out


def _print(meta: dict, report: list[dict]) -> None:
    device = f"{meta['device']} ({meta['device_name']})" if meta["device_name"] else meta["device"]
    print(
        f"adp-ros bench: {meta['model']}, {meta['preset']}, {device}, "
        f"{meta['dtype']}, {meta['acceleration']}, torch {meta['torch']}, {meta['threads']} threads, "
        f"median of {meta['iters']} after {meta['warmup']} warm-up (adp rows: the gate's {meta['gate_chunks']} "
        f"chunks, dense and pruned medians weighted by the pruned fraction){', --quick' if meta['quick'] else ''}"
    )
    header = (
        f"{'mode':<7}{'ρ':>5}{'pruned':>7}{'vis tok':>8}{'seq':>6}{'TFLOP':>8}{'vision':>8}{'score':>7}"
        f"{'llm':>8}{'llm p90':>8}{'head':>6}{'total':>8}{'p90':>8}{'llm ×':>7}{'flops ×':>8}{'tot ×':>7}{'Δa max':>9}"
    )
    print(header)
    print("-" * len(header))
    for e in report:
        m, p = e["median_ms"], e["p90_ms"]
        print(
            f"{e['mode']:<7}{e['keep_ratio']:>5.2f}{e['pruned_fraction']:>7.2f}{e['vision_tokens']:>8.0f}"
            f"{e['sequence']:>6.0f}{e['tflops_total']:>8.4f}{m['vision']:>8.2f}{m['scoring']:>7.2f}{m['llm']:>8.2f}"
            f"{p['llm']:>8.2f}{m['head']:>6.2f}{m['total']:>8.2f}{p['total']:>8.2f}"
            f"{e.get('speedup_llm', float('nan')):>7.2f}{e.get('flops_ratio_llm', float('nan')):>8.2f}"
            f"{e.get('speedup_total', float('nan')):>7.2f}{e['action_deviation_vs_dense']:>9.4f}"
        )
    checks = [e for e in report if e["mode"] == "static" and 0.3 <= e["keep_ratio"] <= 0.7 and "llm_efficiency" in e]
    if checks and meta["device"] == "cpu":
        worst = min(e["llm_efficiency"] for e in checks)
        verdict = "meets" if worst >= 0.9 else "misses"
        print(f"\nCPU target: LLM speed-up ≥ 0.9 × FLOPs ratio for static ρ 0.3–0.7: worst {worst:.2f} ({verdict})")
