"""Time dense, ADP, static, random and FastV side by side, in one process, on the same inputs.

Prints a table — visual tokens, sequence length, TFLOPs, median and p90 per stage, speed-up against dense (LLM
stage and whole chunk), the FLOPs ratio it should approach, and the action deviation from dense — and writes
everything to a JSON file.

Rows: `static`, `random` and `fastv` prune every chunk at each keep ratio; `adp` runs the action-aware gate over
a synthetic pick-and-place end-effector trajectory, so its row averages the dense and pruned chunks the gate chose
(pruned fraction shown).

Sizes: without --model a mid-size random checkpoint is built (CPU-friendly: the LLM dominates, so speed-ups are
visible); --model DIR times a real checkpoint; --full builds the full-size architecture with random weights
directly on the device (CUDA, ~16 GB in bf16).
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
from adp_ros.tools.common import float_list

STAGE_NAMES = (*MODEL_STAGES, "total")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from adp_ros.core.platform import PRESETS

    parser.add_argument("--model", type=Path, help="checkpoint directory (default: a mid-size random model)")
    parser.add_argument("--full", action="store_true", help="full-size architecture, random weights (CUDA)")
    parser.add_argument("--preset", choices=sorted(PRESETS), default="libero")
    parser.add_argument("--modes", default="dense,adp,static,random,fastv", help="comma-separated modes")
    parser.add_argument("--keep-ratios", type=float_list, default=[0.3, 0.5, 0.7], help="ρ values, e.g. 0.3,0.5")
    parser.add_argument("--iters", type=int, default=10, help="timed chunks per row (default 10)")
    parser.add_argument("--warmup", type=int, default=2, help="untimed chunks per row first (default 2)")
    parser.add_argument("--gate-chunks", type=int, default=24, help="chunks in the ADP gated run (default 24)")
    parser.add_argument(
        "--fastv-layer",
        type=int,
        default=None,
        help="FastV K (default: 2 of 32 layers as in the FastV paper, scaled to the LLM depth)",
    )
    parser.add_argument("--device", default="auto")
    parser.add_argument("--dtype", default="auto", choices=["auto", "float32", "bfloat16", "float16"])
    parser.add_argument("--acceleration", default="auto", choices=["auto", "eager", "cuda_graph"])
    parser.add_argument("--json", type=Path, default=Path("bench_results.json"), help="where to write results")


@dataclass
class Row:
    mode: str
    keep_ratio: float
    timings: dict[str, list[float]] = field(default_factory=dict)
    vision_tokens: float = 0.0
    sequence: float = 0.0
    tflops_total: float = 0.0
    tflops_llm: float = 0.0
    action_deviation: float = 0.0
    pruned_fraction: float = 0.0

    def median(self, stage: str) -> float:
        return statistics.median(self.timings[stage])

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

    modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    for m in modes:
        if m not in PRUNE_MODES:
            raise InputError(f"unknown mode {m!r} in --modes (choose from {', '.join(PRUNE_MODES)})")
    if args.iters < 1 or args.warmup < 0:
        raise InputError("--iters must be >= 1 and --warmup >= 0")
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
        dense_actions = policy.predict(obs).normalized_actions
        gate_states = [
            d.is_pruned
            for d in replay_trajectory(
                pick_and_place_trajectory(args.gate_chunks, platform.chunk_len),
                platform.chunk_len,
                get_gate_preset("default"),
            )[: args.gate_chunks]
        ]
        # Rows are interleaved chunk by chunk, so slow drifts and other processes hit every row alike.
        schedules = [gate_states if mode == "adp" else [mode != "dense"] * args.iters for mode, _ in configs]
        prunes = [
            None if mode == "dense" else PruneConfig(mode=mode, keep_ratio=ratio, fastv_layer=args.fastv_layer)
            for mode, ratio in configs
        ]
        rows = [Row(mode, ratio, {s: [] for s in STAGE_NAMES}) for mode, ratio in configs]
        keys = ("dev", "fl", "ft", "tok", "seq", "pruned")
        samples: list[dict[str, list[float]]] = [{k: [] for k in keys} for _ in configs]
        total = len(configs) * args.warmup + sum(len(s) for s in schedules)
        progress = tqdm(total=total, desc="bench", unit="chunk", file=sys.stderr, leave=False)
        for _ in range(args.warmup):
            for prune in prunes:
                policy.predict(obs, prune)
                progress.update()
        for step in range(max(len(s) for s in schedules)):
            for i, prune in enumerate(prunes):
                if step >= len(schedules[i]):
                    continue
                out = policy.predict(obs, prune.for_chunk(schedules[i][step]) if prune else None)
                for s in STAGE_NAMES:
                    rows[i].timings[s].append(out.timings_ms.get(s, 0.0))
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
        "device_name": torch.cuda.get_device_name(policy.device) if policy.device.type == "cuda" else host.processor(),
        "dtype": str(policy.dtype).removeprefix("torch."),
        "acceleration": "cuda_graph" if policy.graphs.enabled else "eager",
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "iters": args.iters,
        "warmup": args.warmup,
        "date": time.strftime("%Y-%m-%d %H:%M:%S"),
        "gate_preset": "default",
        "gate_chunks": args.gate_chunks,
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
            # A gated row mixes dense and pruned chunks: its median is one of the two; the mean is what a run costs.
            center = statistics.fmean if r.mode == "adp" else statistics.median
            entry["speedup_llm"] = center(dense.timings["llm"]) / center(r.timings["llm"])
            entry["speedup_total"] = center(dense.timings["total"]) / center(r.timings["total"])
            entry["flops_ratio_llm"] = dense.tflops_llm / r.tflops_llm
            entry["flops_ratio_total"] = dense.tflops_total / r.tflops_total
            entry["llm_efficiency"] = entry["speedup_llm"] / entry["flops_ratio_llm"]
        out.append(entry)
    return out


def _print(meta: dict, report: list[dict]) -> None:
    print(
        f"adp-ros bench: {meta['model']}, {meta['preset']}, {meta['device']} ({meta['device_name']}), "
        f"{meta['dtype']}, {meta['acceleration']}, torch {meta['torch']}, {meta['threads']} threads, "
        f"median of {meta['iters']} after {meta['warmup']} warm-up (adp rows: speed-ups of means over the gate's "
        f"{meta['gate_chunks']} chunks)"
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
