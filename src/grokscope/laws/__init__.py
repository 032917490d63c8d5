"""Delay laws (papers 1, 4 and 02 §9-§10): importing published per-seed results, and the fits of the laws.

Modules: ``published`` (reading one ClevixLab ``.npz`` cell), ``importer`` (cells -> run directories),
``cells`` (per-cell medians over members, with the censoring treatment as an option), ``fits`` (the laws as pure
numpy kernels: exponential, power, saddle-node, AIC, collapse regression, shared slope, logistic, W_c ∝ p^β),
``recovery`` (paper 1's recovery fraction with the paired seed bootstrap), ``first_passage`` (02 §10).
"""
