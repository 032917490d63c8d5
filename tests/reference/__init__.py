"""Reference tests: the trainer against plain PyTorch and documented formulas (through ``harness.py``)."""
