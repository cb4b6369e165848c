"""`adp-ros predict` and `adp-ros make-tiny-model`, run as users run them."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
from oft_fixtures import LIBERO_CKPT, golden

from adp_ros.tools.cli import main

REPO = Path(__file__).resolve().parents[2]


def _write_pngs(images: np.ndarray, directory: Path) -> list[str]:
    paths = []
    for i, image in enumerate(images):
        path = directory / f"cam{i}.png"
        cv2.imwrite(str(path), image[..., ::-1])
        paths.append(str(path))
    return paths


def _predict_json(capsys, argv: list[str]) -> dict:
    assert main(["predict", *argv, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


@pytest.mark.parametrize("case", ["case0", "case1", "case2"])
def test_predict_reproduces_a_fixture_case_end_to_end(tmp_path, capsys, case):
    data = golden("libero")
    images = _write_pngs(data[f"{case}/center_cropped_224"], tmp_path)
    argv = ["--model", str(LIBERO_CKPT), "--preset", "libero", "--no-center-crop", "--device", "cpu"]
    argv += [x for p in images for x in ("--image", p)]
    argv += ["--proprio", ",".join(repr(float(v)) for v in data[f"{case}/proprio_raw"])]
    argv += ["--input-ids", ",".join(str(int(v)) for v in data[f"{case}/input_ids_prompt"])]
    record = _predict_json(capsys, argv)
    np.testing.assert_allclose(record["actions"], data[f"{case}/actions"], atol=1e-4, rtol=1e-4)
    np.testing.assert_allclose(record["normalized_actions"], data[f"{case}/normalized_actions"], atol=1e-4)
    assert set(record["timings_ms"]) >= {"preprocess", "vision", "projector", "llm", "head", "total"}
    assert record["tokens"]["vision_dense"] == 512 and record["tokens"]["sequence"] == data[f"{case}/position_ids"].size
    assert record["prompt_ids"][-1] == 29871 and record["prompt_ids"].count(29871) == 1


def test_dump_stages_writes_every_stage(tmp_path, capsys):
    data = golden("libero")
    images = _write_pngs(data["case0/center_cropped_224"], tmp_path)
    argv = ["--model", str(LIBERO_CKPT), "--no-center-crop", "--device", "cpu", "--dump-stages", str(tmp_path / "d")]
    argv += [x for p in images for x in ("--image", p)]
    argv += ["--proprio", ",".join(repr(float(v)) for v in data["case0/proprio_raw"])]
    argv += ["--input-ids", ",".join(str(int(v)) for v in data["case0/input_ids_prompt"])]
    _predict_json(capsys, argv)
    dumped = tmp_path / "d"
    index = json.loads((dumped / "index.json").read_text())
    for name in (
        "pixel_values",
        "featurizer_patches",
        "projected_patch_embeddings",
        "multimodal_embeddings",
        "last_hidden_states",
        "actions_hidden_states",
        "actions",
    ):
        assert name in index
    np.testing.assert_array_equal(np.load(dumped / "pixel_values.npy"), data["case0/pixel_values_crop"])
    np.testing.assert_allclose(np.load(dumped / "last_hidden_states.npy"), data["case0/last_hidden_states"], atol=1e-4)


def test_tiny_model_round_trip_with_instruction_and_pruning(tmp_path, capsys):
    """make-tiny-model writes a released-layout directory that predict loads; ADP output names kept patches."""
    assert main(["make-tiny-model", str(tmp_path / "tiny"), "--preset", "aloha"]) == 0
    capsys.readouterr()
    rng = np.random.default_rng(0)
    images = _write_pngs(rng.integers(0, 255, (3, 240, 320, 3), dtype=np.uint8), tmp_path)
    base = [
        "--model",
        str(tmp_path / "tiny"),
        "--preset",
        "aloha",
        "--device",
        "cpu",
        "--proprio",
        ",".join(["0.1"] * 14),
        "--instruction",
        "transfer the cube to the right gripper",
    ]
    base += [x for p in images for x in ("--image", p)]
    dense = _predict_json(capsys, base)
    assert np.asarray(dense["actions"]).shape == (25, 14)
    assert [len(k) for k in dense["kept_indices"]] == [256, 256, 256] and dense["scores"] is None
    pruned = _predict_json(capsys, [*base, "--mode", "adp", "--keep-ratio", "0.3"])
    assert pruned["pruned"] and [len(k) for k in pruned["kept_indices"]] == [92, 69, 69]
    assert all(k == sorted(k) and k[0] >= 0 and k[-1] <= 255 for k in pruned["kept_indices"])
    assert [len(s) for s in pruned["scores"]] == [256, 256, 256]
    gate_dense = _predict_json(capsys, [*base, "--mode", "adp", "--keep-ratio", "0.3", "--gate-state", "dense"])
    assert gate_dense["actions"] == dense["actions"]
    assert pruned["actions"] != dense["actions"]


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--image", "missing.png"], "does not exist"),
        (["--proprio", "0,0"], "expects (8,)"),
        (["--unnorm-key", "nope"], "choose one of"),
        (["--preset", "aloha"], "needs 3"),
    ],
)
def test_bad_input_gives_one_clear_error(tmp_path, capsys, extra, message):
    data = golden("libero")
    images = _write_pngs(data["case0/center_cropped_224"], tmp_path)
    argv = ["predict", "--model", str(LIBERO_CKPT), "--device", "cpu", "--input-ids", "1,512"]
    if "--image" not in extra:
        argv += [x for p in images for x in ("--image", p)]
    else:
        argv += ["--image", str(tmp_path / "missing.png"), "--image", images[1]]
        extra = []
    if "--proprio" not in extra:
        argv += ["--proprio", ",".join(["0"] * 8)]
    assert main(argv + extra) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err and err.count("\n") == 1


def test_console_script_help_is_fast_and_explains():
    out = subprocess.run(
        [sys.executable, "-m", "adp_ros.tools.cli", "predict", "--help"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "--dump-stages" in out and "--input-ids" in out and "Example" in out


def test_proprio_accepts_negative_values_in_every_form(tmp_path, capsys):
    """`--proprio -0.1,...` used to fail in argparse ("expected one argument"): a leading minus looked like an
    option. The comma, `=` and space-separated forms give the same proprio, hence the same chunk."""
    data = golden("libero")
    images = _write_pngs(data["case0/center_cropped_224"], tmp_path)
    base = ["--model", str(LIBERO_CKPT), "--no-center-crop", "--device", "cpu", "--input-ids", "1,512"]
    base += [x for p in images for x in ("--image", p)]
    values = [-0.1, 0.2, -1.1, 3.1, -0.5, 0.0, 0.04, -0.04]
    text = ",".join(repr(v) for v in values)
    comma = _predict_json(capsys, [*base, "--proprio", text])
    equals = _predict_json(capsys, [*base, f"--proprio={text}"])
    spaced = _predict_json(capsys, [*base, "--proprio", *(repr(v) for v in values)])
    zeros = _predict_json(capsys, [*base, "--proprio", ",".join(["0"] * 8)])
    assert comma["actions"] == equals["actions"] == spaced["actions"]
    assert comma["actions"] != zeros["actions"], "the proprio values did not reach the model"


def test_proprio_negative_first_value_through_the_console_script(tmp_path):
    data = golden("libero")
    images = _write_pngs(data["case0/center_cropped_224"], tmp_path)
    argv = [sys.executable, "-m", "adp_ros.tools.cli", "predict", "--model", str(LIBERO_CKPT), "--device", "cpu"]
    argv += ["--input-ids", "1,512", "--proprio", "-0.1,0.2,-1.1,3.1,-0.5,0.0,0.04,-0.04", "--json"]
    argv += [x for p in images for x in ("--image", p)]
    done = subprocess.run(argv, cwd=REPO, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert len(json.loads(done.stdout)["actions"]) == 8
