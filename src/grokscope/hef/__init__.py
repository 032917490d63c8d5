"""HEF (papers/01 §5) and two-field (papers/03 §12) analyses: pure kernels on arrays, one concept per module.

- ``peaks``: the smoothed weight-norm peak with a prominence rule, fingerprint rate, lead time;
- ``kink``: the normalised accuracy curve, its tanh-kink fit and the pooled collapse R²;
- ``similarity``: linear CKA and Jaccard (representation convergence);
- ``markov``: coarse-grained Markov chains and their entropy production (time irreversibility);
- ``landscape``: principal components of a trajectory and the KDE quasi-potential −ln p̂;
- ``portrait``: the two-field portrait of one run's stored metrics (uses the four above);
- ``measure``: per-run HEF measurements from stored curves and checkpoints (used by ``reproduce hef``).

Every threshold here (smoothing window, prominence, fit window, number of states) is the toolkit's choice: the HEF
paper's body is not public and the two-field paper has no experiments; each is a documented option.
"""
