"""The real Llama-2 tokenizer through the policy's own loading path reproduces the original's prompt ids.

Reference: `test/fixtures/llama2_tokenizer/prompt_cases.json`, 48 instructions tokenised by the original stack
(transformers 4.40.1 / tokenizers 0.19.1 `LlamaTokenizerFast`). The tokenizer files are dropped next to the tiny
checkpoint's weights, so `OftPolicy.prompt_ids` takes the path a downloaded checkpoint takes.
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest
from oft_fixtures import LIBERO_CKPT

from adp_ros.core.errors import CheckpointError, InputError
from adp_ros.core.platform import get_platform
from adp_ros.model.config import PolicyConfig
from adp_ros.model.policy import Observation, OftPolicy
from adp_ros.model.prompt import EMPTY_TOKEN_ID, PromptTokenizer, finalize_prompt_ids, prompt_text

TOKENIZER = Path(__file__).resolve().parents[1] / "fixtures" / "llama2_tokenizer"
CASES = json.loads((TOKENIZER / "prompt_cases.json").read_text())
RELEASED_FILES = ("tokenizer.json", "tokenizer.model", "tokenizer_config.json", "special_tokens_map.json")
RELEASED_FILES += ("added_tokens.json",)
# Which tokenizer files a directory holds: the released set, the set without tokenizer.json (sentencepiece reads
# tokenizer.model and the added tokens from the JSON files), tokenizer.model alone.
LAYOUTS = {
    "released": RELEASED_FILES,
    "no_tokenizer_json": tuple(f for f in RELEASED_FILES if f != "tokenizer.json"),
    "tokenizer_model_only": ("tokenizer.model",),
}


def tokenizer_dir(target: Path, files: tuple[str, ...], *, weights: bool = False) -> Path:
    """A directory with the given tokenizer files, and with the tiny checkpoint's other files when `weights`."""
    target.mkdir(parents=True, exist_ok=True)
    for name in files:
        shutil.copy(TOKENIZER / name, target / name)
    if weights:
        for path in LIBERO_CKPT.iterdir():
            (target / path.name).symlink_to(path)
    return target


def test_fixture_holds_48_cases_in_the_oft_template():
    cases = CASES["cases"]
    assert len(cases) == 48 and len({c["instruction"] for c in cases}) == 48
    for case in cases:
        assert prompt_text(case["instruction"]) == case["prompt"]
        assert case["input_ids"][0] == 1 and case["input_ids_model"][-1] == EMPTY_TOKEN_ID


@pytest.mark.parametrize("layout", sorted(LAYOUTS))
def test_policy_prompt_ids_reproduce_the_original_for_all_48_cases(tmp_path, layout):
    checkpoint = tokenizer_dir(tmp_path / layout, LAYOUTS[layout], weights=True)
    policy = OftPolicy(PolicyConfig(checkpoint, get_platform("libero"), device="cpu"))
    tokenizer = PromptTokenizer(checkpoint)  # the class the policy builds from its checkpoint directory
    assert tokenizer.backend == ("tokenizers" if layout == "released" else "sentencepiece")
    mismatches = []
    for case in CASES["cases"]:
        observation = Observation(images=(), proprio=np.zeros(8), instruction=case["instruction"])
        got_input = tokenizer.encode_instruction(case["instruction"])
        got_model = policy.prompt_ids(observation)
        if got_input != case["input_ids"] or got_model != case["input_ids_model"]:
            mismatches.append((case["instruction"], got_input, got_model))
    assert not mismatches, f"{len(mismatches)} of 48 differ, first: {mismatches[0]}"
    assert finalize_prompt_ids(got_input, policy.arch.llm.vocab_size) == got_model


# Inputs outside the fixture where the two readers could part: added / special tokens typed as text, runs of spaces,
# tabs and newlines, bytes outside the vocabulary (byte fallback), non-ASCII, a leading "▁", long text.
EDGE_TEXTS = (
    "a <s> b",
    "<s>abc",
    "x</s>",
    "<PAD><PAD> pad",
    "<unk> <<s>> <S>",
    "  two  spaces ",
    "tab\there",
    "new\nline\r\n",
    "émoji 🤖 ünïcode 中文 ﬁ ①",
    "▁already▁marked",
    "zero\u200bwidth\u00a0nbsp",
    " ",
    "",
    "grasp the can's handle; move 10cm (slowly)!",
    "A" * 300,
)


@pytest.mark.parametrize("text", EDGE_TEXTS)
def test_sentencepiece_reader_matches_tokenizer_json_beyond_the_fixture(tmp_path, text):
    released = PromptTokenizer(tokenizer_dir(tmp_path / "json", LAYOUTS["released"]))
    from_model = PromptTokenizer(tokenizer_dir(tmp_path / "model", LAYOUTS["no_tokenizer_json"]))
    assert from_model.encode(text) == released.encode(text)
    assert from_model.pieces(released.encode(text)) == released.pieces(released.encode(text))
    if "<PAD>" not in text:  # tokenizer.model alone does not know the added <PAD> token
        alone = PromptTokenizer(tokenizer_dir(tmp_path / "alone", LAYOUTS["tokenizer_model_only"]))
        assert alone.encode(text) == released.encode(text)


def test_a_directory_without_tokenizer_files_is_one_clear_error(tmp_path):
    checkpoint = tokenizer_dir(tmp_path / "ckpt", (), weights=True)
    with pytest.raises(CheckpointError) as err:
        PromptTokenizer(checkpoint)
    message = str(err.value)
    assert "\n" not in message and "tokenizer.json" in message and "tokenizer.model" in message
    assert "config.json" in message  # says what it found
    policy = OftPolicy(PolicyConfig(checkpoint, get_platform("libero"), device="cpu"))
    with pytest.raises(CheckpointError, match="no tokenizer in"):
        policy.prompt_ids(Observation(images=(), proprio=np.zeros(8), instruction="turn on the stove"))


def test_a_missing_directory_and_a_corrupt_model_are_one_line_errors(tmp_path):
    with pytest.raises(CheckpointError, match="does not exist") as err:
        PromptTokenizer(tmp_path / "nowhere")
    assert "\n" not in str(err.value)
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "tokenizer.model").write_bytes((TOKENIZER / "tokenizer.model").read_bytes()[:1000])
    with pytest.raises(CheckpointError, match="not a SentencePiece model") as err:
        PromptTokenizer(tmp_path / "bad")
    assert "\n" not in str(err.value)


def test_without_sentencepiece_tokenizer_model_alone_says_what_to_do(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "sentencepiece", None)  # as if the package were not installed
    directory = tokenizer_dir(tmp_path / "model", LAYOUTS["tokenizer_model_only"])
    with pytest.raises(CheckpointError) as err:
        PromptTokenizer(directory)
    message = str(err.value)
    assert "\n" not in message and "pip install sentencepiece" in message and "tokenizer.json" in message


def test_an_empty_instruction_is_refused(tmp_path):
    tokenizer = PromptTokenizer(TOKENIZER)
    with pytest.raises(InputError, match="empty"):
        tokenizer.encode_instruction("  ")
