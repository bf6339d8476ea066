"""Fuzzing of every parser of external bytes: seeded mutation loops in a watched child process for the
bulk, Hypothesis for structure, and the regression corpus (tests/corpus/provider_frames.jsonl)."""
