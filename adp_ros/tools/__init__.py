"""Command-line tools: predict, gate, bench, bag synth/play/record/eval, demo."""
