"""Noise-driven escape from metastable phases (paper 3, Ersoy & Wiesner 2026, arXiv:2606.17120; papers/01 §3).

Only the paper's abstract is public: the mode model, the trapping protocol and every detail below are
reconstructed from Ziyin & Ueda's exact theory of L2 phase transitions (arXiv:2205.12510) [papers/01 §3.3].

- ``modes``: the analytic mode model ℓ(b) = b^{2L} - 2 s b^L + γ L b² (L = D + 1 weight matrices): minima,
  spinodal γ_sp, first-order point γ_c, barrier ΔE(γ) (polynomial roots and a brute-force grid), hysteresis loop;
- ``langevin``: a vectorised 1-D Langevin simulation of one mode and Kramers' mean escape time;
- ``fits``: escape-time detection with right-censoring, the Arrhenius fit with a bootstrap CI, the survival
  (exponential waiting time) check;
- ``temperature``: T_eff of minibatch SGD from the measured per-example gradient covariance;
- ``netsim``: many deep linear nets (temperatures × seeds on one member axis) and their escape times;
- ``study``: the simulations of ``reproduce arrhenius`` (cached); ``figures``: its Arrhenius and survival plot.

The run-store side lives in the core: the ``teacher`` task, the ``deeplinear`` model on real inputs, the ``modes``
probe, the ``teacher-escape`` preset and ``grokscope analyze barrier`` (cli_analyze_barrier.py).
"""

RECONSTRUCTED = ("mode model, trapping protocol, escape criterion, temperature mapping and sparse sub-sampling "
                 "are reconstructed (papers/01 §3.3, from Ziyin & Ueda arXiv:2205.12510); only paper 3's abstract "
                 "is public")
