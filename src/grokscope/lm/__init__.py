"""Language-model grokking (papers: Shivagunde et al. 2026; Shehper & Vaswani 2026).

``grammar``/``corpus``: a generated corpus with controlled exposure, on a lexicon harvested from BLiMP;
``tokenizer``: word level; ``model``: the member-axis transformer as a causal LM; ``train``: training in the run
store; ``blimp``: loader, critical phrases, scoring; ``exposure``: exposure index, proxy split, delay;
``internals``: concept vectors, participation ratio, head concentration; ``evaluate``: over checkpoints.
"""
