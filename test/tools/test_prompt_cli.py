"""`adp-ros prompt`, run as users run it, on the real Llama-2 tokenizer files (test/fixtures/llama2_tokenizer)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from oft_fixtures import LIBERO_CKPT, golden, golden_case_info

from adp_ros.tools.cli import main

REPO = Path(__file__).resolve().parents[2]
TOKENIZER = REPO / "test" / "fixtures" / "llama2_tokenizer"
CASES = json.loads((TOKENIZER / "prompt_cases.json").read_text())["cases"]


def _copy(target: Path, names) -> Path:
    target.mkdir(parents=True, exist_ok=True)
    for name in names:
        shutil.copy(TOKENIZER / name, target / name)
    return target


def _cli(*argv: str, env_code: str = "") -> subprocess.CompletedProcess:
    code = f"import sys; {env_code}from adp_ros.tools.cli import main; sys.exit(main(sys.argv[1:]))"
    return subprocess.run([sys.executable, "-c", code, *argv], cwd=REPO, capture_output=True, text=True, check=False)


def _json(capsys, model: Path, instruction: str) -> dict:
    assert main(["prompt", "--model", str(model), "--instruction", instruction, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_json_reproduces_all_48_cases_on_a_tokenizer_only_directory(capsys):
    # The fixture folder holds the released tokenizer files and no weights.
    for case in CASES:
        record = _json(capsys, TOKENIZER, case["instruction"])
        assert record == {"input_ids": case["input_ids"], "model_input_ids": case["input_ids_model"]}, case


def test_json_from_tokenizer_model_alone_is_the_same(tmp_path, capsys):
    directory = _copy(tmp_path / "sp", ["tokenizer.model"])
    for case in CASES:
        record = _json(capsys, directory, case["instruction"])
        assert record == {"input_ids": case["input_ids"], "model_input_ids": case["input_ids_model"]}, case


def test_as_a_process_json_is_one_line_and_stderr_stays_empty():
    case = CASES[0]
    done = _cli("prompt", "--model", str(TOKENIZER), "--instruction", case["instruction"], "--json")
    assert done.returncode == 0 and done.stderr == ""
    assert done.stdout.count("\n") == 1
    assert json.loads(done.stdout) == {"input_ids": case["input_ids"], "model_input_ids": case["input_ids_model"]}


def test_readable_output_shows_prompt_ids_and_tokens(capsys):
    case = next(c for c in CASES if c["instruction"] == "Pick Up The Red Cube")
    assert main(["prompt", "--model", str(TOKENIZER), "--instruction", case["instruction"]]) == 0
    out = capsys.readouterr().out
    assert repr(case["prompt"]) in out and "tokenizer.json (tokenizers)" in out
    assert ",".join(map(str, case["input_ids"])) in out
    assert ",".join(map(str, case["input_ids_model"])) in out
    assert "29871 appended" in out and f"T = {len(case['input_ids_model']) - 1}" in out
    assert "'▁cube'" in out and "'<0x0A>'" in out


def test_no_tokenizer_files_is_one_error_line(tmp_path):
    (tmp_path / "config.json").write_text("{}")
    done = _cli("prompt", "--model", str(tmp_path), "--instruction", "turn on the stove", "--json")
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.count("\n") == 1 and done.stderr.startswith("adp-ros prompt: error: no tokenizer in")
    assert "tokenizer.json" in done.stderr and "tokenizer.model" in done.stderr and "config.json" in done.stderr


def test_tokenizer_model_without_sentencepiece_is_one_error_line(tmp_path):
    directory = _copy(tmp_path / "sp", ["tokenizer.model"])
    hide = "sys.modules['sentencepiece'] = None; "  # as if the package were not installed
    done = _cli("prompt", "--model", str(directory), "--instruction", "turn on the stove", env_code=hide)
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.count("\n") == 1 and "pip install sentencepiece" in done.stderr


def test_missing_directory_and_empty_instruction_are_one_error_line(tmp_path):
    done = _cli("prompt", "--model", str(tmp_path / "nowhere"), "--instruction", "turn on the stove")
    assert done.returncode == 2 and done.stderr.count("\n") == 1 and "does not exist" in done.stderr
    done = _cli("prompt", "--model", str(TOKENIZER), "--instruction", " ")
    assert done.returncode == 2 and done.stderr.count("\n") == 1 and "instruction is empty" in done.stderr


@pytest.mark.parametrize("case", ["case0", "case1", "case2"])
def test_predict_with_an_instruction_reproduces_the_golden_actions(tmp_path, capsys, case):
    """The tiny checkpoint plus the real tokenizer files: `predict --instruction` takes the tokenizer path and
    lands on the original's actions (the fixture recorded them for these instructions' prompt ids)."""
    import cv2

    checkpoint = _copy(tmp_path / "ckpt", ["tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"])
    for path in LIBERO_CKPT.iterdir():
        (checkpoint / path.name).symlink_to(path)
    data = golden("libero")
    images = []
    for i, image in enumerate(data[f"{case}/center_cropped_224"]):
        images += ["--image", str(tmp_path / f"cam{i}.png")]
        cv2.imwrite(images[-1], image[..., ::-1])
    instruction = golden_case_info("libero", case)["instruction"]
    argv = ["predict", "--model", str(checkpoint), "--no-center-crop", "--device", "cpu", *images, "--json"]
    argv += ["--proprio", ",".join(repr(float(v)) for v in data[f"{case}/proprio_raw"]), "--instruction", instruction]
    assert main(argv) == 0
    record = json.loads(capsys.readouterr().out)
    expected_ids = [int(v) for v in data[f"{case}/input_ids_prompt"]]
    if expected_ids[-1] != 29871:
        expected_ids.append(29871)
    assert record["prompt_ids"] == expected_ids
    np.testing.assert_allclose(record["actions"], data[f"{case}/actions"], atol=1e-4, rtol=1e-4)
