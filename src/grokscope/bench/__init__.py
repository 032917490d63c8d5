"""The predictor benchmark (issue 14): which early-warning signals predict grokking, how early, against baselines.

``pool`` (pool specs, building, reading runs), ``history`` (a member's metrics, truncated at the question step),
``signals`` (causal kernels), ``predictors`` (the registry), ``protocol`` (questions, splits, causality audit),
``scores`` (AUROC + CI, lead time, MAPE), ``logistic`` (the combined model), ``llc`` / ``esd_alpha`` /
``checkpoint_scores`` (predictors on stored weights), ``evaluate`` and ``leaderboard`` (scoring a pool),
``claims`` (claim rows), ``report`` (the pool's HTML report). CLI: ``grokscope bench-predictors``.
"""
