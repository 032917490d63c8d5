"""Mechanistic read-outs of modular-arithmetic checkpoints: the Fourier clock (Nanda et al. 2023) and the
Discrete-Log Clock (paper 2, Nguyen 2026): number theory, spectra, neurons, attention, progress measures, clock fit."""
