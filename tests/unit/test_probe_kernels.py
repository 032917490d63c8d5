"""Reference tests of the probe suite's pure kernels (papers/02 §7-§9, 03 §11-§14), on plain tensors."""

from __future__ import annotations

import math

import networkx as nx
import numpy as np
import pytest
import torch

from grokscope.probes.attention import attention_stats, head_entropies, pr_norm
from grokscope.probes.gmm import beta_c, collapsed_hessian_min_eig, em_step, nc1
from grokscope.probes.graph import chain_adjacency, fiedler_value, graph_stats, laplacian
from grokscope.probes.lar import effective_dim, lar, lar_from_sums, lar_spectral, lar_sums
from grokscope.probes.logits import mean_margin
from grokscope.probes.logprob_quantiles import quantile_embed, quantile_levels
from grokscope.probes.norms import angle
from grokscope.probes.repulsion import repulsion_stats
from grokscope.probes.spectra import effective_rank, stable_rank
from grokscope.probes.two_field import irreversibility
from grokscope.probes.update_gram import gram_eigs

D = torch.float64


def gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


# -- LAR -----------------------------------------------------------------------------------------------------
def test_lar_direct_equals_spectral_form():
    g = gen(1)
    W = torch.randn(3, 48, 20, generator=g, dtype=D) * torch.linspace(0.1, 3, 20, dtype=D)
    X = torch.randn(3, 500, 48, generator=g, dtype=D) @ torch.randn(48, 48, generator=g, dtype=D)
    direct = lar(W, X)
    spectral, p, q = lar_spectral(W, X)
    torch.testing.assert_close(direct, spectral, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(p.sum(1), torch.ones(3, dtype=D))
    torch.testing.assert_close(q.sum(1), torch.ones(3, dtype=D))


def test_lar_is_one_half_for_isotropic_random_w_and_x():
    g = gen(2)
    W = torch.randn(4, 128, 128, generator=g, dtype=D)
    X = torch.randn(4, 4000, 128, generator=g, dtype=D)
    assert torch.allclose(lar(W, X), torch.full((4,), 0.5, dtype=D), atol=0.01)


@pytest.mark.parametrize("k", [4, 16])
def test_k_hat_recovers_a_planted_rank(k):
    g, n = gen(3), 128
    Q, _ = torch.linalg.qr(torch.randn(n, n, generator=g, dtype=D))
    basis = Q[:, :k]  # W and X share the same k input directions, both spectra ~uniform on them
    W = (basis @ torch.linalg.qr(torch.randn(k, 64, generator=g, dtype=D).T)[0].T)[None]
    X = (torch.randn(20000, k, generator=g, dtype=D) @ basis.T)[None]
    k_hat = float(effective_dim(lar(W, X), n))
    assert abs(k_hat - k) / k < 0.05, k_hat
    assert abs(float(effective_dim(torch.tensor(1.0, dtype=D), n)) - 1.0) < 1e-12  # rank-1 alignment


def test_lar_pools_sums_over_chunks_and_never_averages_chunk_lars():
    g = gen(4)
    W = torch.randn(1, 16, 8, generator=g, dtype=D)
    X = torch.cat([torch.randn(1, 100, 16, generator=g, dtype=D) * 5, torch.randn(1, 100, 16, generator=g, dtype=D)
                   @ torch.diag(torch.linspace(0, 1, 16, dtype=D))], 1)
    pooled = lar_from_sums(*lar_sums(W, X, chunk=100), 16, 200, 8)
    torch.testing.assert_close(pooled, lar(W, X))
    per_chunk = torch.stack([lar(W, X[:, :100]), lar(W, X[:, 100:])]).mean(0)
    assert not torch.allclose(pooled, per_chunk, atol=1e-3)


# -- GMM -----------------------------------------------------------------------------------------------------
def test_beta_c_is_the_hessian_zero_crossing_at_collapse():
    g = gen(5)
    Z = torch.randn(300, 3, generator=g, dtype=D) @ torch.tensor([[2.0, 0.3, 0], [0, 1.0, 0.2], [0, 0, 0.5]], dtype=D)
    lo, hi = 1e-3, 10.0  # bisection on the smallest Hessian eigenvalue of the free energy (autograd)
    assert collapsed_hessian_min_eig(Z, lo, K=3) > 0 > collapsed_hessian_min_eig(Z, hi, K=3)
    for _ in range(50):
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if collapsed_hessian_min_eig(Z, mid, K=3) > 0 else (lo, mid)
    assert abs(lo - float(beta_c(Z[None]))) / lo < 1e-6


def test_em_fits_separated_clusters_and_the_ml_precision():
    g = gen(6)
    centres = torch.tensor([[-10.0, 0.0], [10.0, 0.0]], dtype=D)
    labels = torch.arange(400) % 2
    Z = (centres[labels] + 0.5 * torch.randn(400, 2, generator=g, dtype=D))[None]
    mu, beta = Z[:, [0, 1]].clone(), torch.tensor([1.0], dtype=D)
    for _ in range(20):
        mu, beta, r = em_step(Z, mu, beta)
    assert abs(float(beta) - 1 / 0.25) / 4 < 0.15  # precision 1/σ², σ = 0.5
    assert float(nc1(Z, labels[None], 2)) < 0.01  # tight clusters: within << between
    assert (r.argmax(-1)[0] == labels).all() or (r.argmax(-1)[0] == 1 - labels).all()


def test_nc1_matches_its_definition():
    g = gen(7)
    Z = torch.randn(1, 60, 4, generator=g, dtype=D)
    y = (torch.arange(60) % 3)[None]
    z, K = Z[0], 3
    means = torch.stack([z[y[0] == k].mean(0) for k in range(K)])
    sw = sum((z[y[0] == k] - means[k]).T @ (z[y[0] == k] - means[k]) for k in range(K)) / 60
    sb = (means - z.mean(0)).T @ (means - z.mean(0)) / K
    expect = torch.trace(sw @ torch.linalg.pinv(sb)) / K
    torch.testing.assert_close(nc1(Z, y, K)[0], expect)


# -- attention -----------------------------------------------------------------------------------------------
def test_attention_stats_on_hand_computed_patterns():
    # one layer, 1 example, 2 heads, 2 queries x 2 keys: head 0 uniform (entropy ln 2), head 1 one-hot (0)
    uniform = torch.full((2, 2), 0.5, dtype=D)
    onehot = torch.tensor([[1.0, 0.0], [1.0, 0.0]], dtype=D)
    A = torch.stack([uniform, onehot])[None, None]  # [M=1, B=1, H=2, 2, 2]
    s = attention_stats([A])
    ln2 = math.log(2)
    torch.testing.assert_close(head_entropies(A)[0], torch.tensor([ln2, 0.0], dtype=D), atol=1e-9, rtol=0)
    assert abs(float(s["entropy_std"]) - ln2 / 2) < 1e-9  # population std of {ln2, 0}
    assert abs(float(s["entropy_mean"]) - ln2 / 2) < 1e-9
    cos = (0.5 * 1 + 0.5 * 1) / (1.0 * math.sqrt(2))  # <a0, a1> / (|a0| |a1|) = 1 / sqrt(2)
    assert abs(float(s["mean_similarity"]) - cos) < 1e-9
    # S = [[1, c], [c, 1]]: eigenvalues 1 ± c
    assert abs(float(s["spectral_gap"]) - 2 * cos) < 1e-9
    assert abs(float(s["pr_norm"]) - 4 / (2 * ((1 + cos) ** 2 + (1 - cos) ** 2))) < 1e-9
    # identical heads: similarity 1, gap H, PR_norm 1/H; layers are averaged
    same = torch.stack([onehot, onehot])[None, None]
    t = attention_stats([same, A])
    assert abs(float(t["mean_similarity"]) - (1 + cos) / 2) < 1e-9
    assert abs(float(attention_stats([same])["pr_norm"]) - 0.5) < 1e-9


def test_pr_norm_is_one_over_one_plus_cv_squared():
    a = torch.tensor([[3.0, 1.0, 0.5, 0.25]], dtype=D)
    cv2 = a.var(unbiased=False) / a.mean() ** 2
    assert abs(float(pr_norm(a)) - float(1 / (1 + cv2))) < 1e-12


# -- graph -----------------------------------------------------------------------------------------------------
def test_fiedler_value_matches_networkx():
    g = gen(8)
    Ws = [torch.randn(2, 5, 7, generator=g, dtype=D), torch.randn(2, 7, 3, generator=g, dtype=D)]
    stats = graph_stats(Ws)
    for m in range(2):
        G = nx.Graph()
        offs = [0, 5, 12]
        for w, o in zip(Ws, offs):
            for i in range(w.shape[1]):
                for j in range(w.shape[2]):
                    G.add_edge(o + i, o + w.shape[1] + j, weight=abs(float(w[m, i, j])))
        lam2 = nx.algebraic_connectivity(G, weight="weight", method="tracemin_lu", tol=1e-12)
        assert abs(float(stats["fiedler"][m]) - lam2) < 1e-8
        norm = np.sort(np.linalg.eigvalsh(nx.normalized_laplacian_matrix(G, nodelist=range(15)).toarray()))[1]
        assert abs(float(stats["fiedler_norm"][m]) - norm) < 1e-8
        degree = np.mean([d for _, d in G.degree(weight="weight")])
        assert abs(float(stats["fiedler_deg"][m]) - lam2 / degree) < 1e-8


def test_disconnected_graph_has_zero_fiedler_and_chain_shapes_are_checked():
    W = torch.zeros(1, 2, 2, dtype=D)
    W[0, 0, 0] = W[0, 1, 1] = 1.0  # two separate edges
    assert abs(float(fiedler_value(laplacian(chain_adjacency([W]))))) < 1e-12
    with pytest.raises(ValueError, match="layer chain"):
        chain_adjacency([torch.ones(1, 2, 3), torch.ones(1, 4, 2)])


# -- quantiles, spectra, margins, angles ------------------------------------------------------------------------
def test_quantile_embed_matches_numpy_and_w2():
    g = gen(9)
    x = torch.randn(2, 301, generator=g, dtype=D)
    u = quantile_levels(8).numpy()
    np.testing.assert_allclose(quantile_embed(x, 8).numpy(), np.quantile(x.numpy(), u, axis=1).T, rtol=1e-12)
    # a shift by c moves every quantile by c: W₂ distance c
    assert torch.allclose(quantile_embed(x + 2.0, 8) - quantile_embed(x, 8), torch.full((2, 8), 2.0, dtype=D))


def test_stable_and_effective_rank_of_known_spectra():
    s = torch.tensor([[2.0, 1.0, 1.0, 0.0]], dtype=D)
    assert abs(float(stable_rank(s)) - 6 / 4) < 1e-12
    p = np.array([0.5, 0.25, 0.25])
    assert abs(float(effective_rank(s)) - math.exp(-(p * np.log(p)).sum())) < 1e-12
    assert abs(float(effective_rank(torch.ones(1, 5, dtype=D))) - 5) < 1e-12


def test_mean_margin_and_angle():
    z = torch.tensor([[[3.0, 1.0, 2.0], [0.0, 4.0, 1.0]]], dtype=D)
    y = torch.tensor([[0, 2]])
    assert abs(float(mean_margin(z, y)) - ((3 - 2) + (1 - 4)) / 2) < 1e-12
    a = torch.tensor([[1.0, 0.0]], dtype=D)
    assert abs(float(angle(a, torch.tensor([[1.0, 1.0]], dtype=D))) - math.pi / 4) < 1e-12


# -- update Gram, repulsion, irreversibility ---------------------------------------------------------------------
def test_update_gram_eigs_see_a_planted_rank():
    g = gen(10)
    basis = torch.randn(2, 500, generator=g, dtype=D)
    deltas = (torch.randn(20, 2, generator=g, dtype=D) @ basis)[None]  # rank-2 window of 20 updates
    s = gram_eigs(deltas)[0]
    assert s[1] > 1e-3 * s[0] and s[2] < 1e-9 * s[0]  # σ₂/σ₃ blows up for a rank-2 window
    torch.testing.assert_close(s.sum(), deltas.square().sum())  # trace of the Gram


def test_sign_match_of_two_similar_features_is_the_theorem_6_sign():
    # with two features only, P_η on the pair is the full P_η: Tian's sign rule must hold exactly
    g = gen(11)
    f = torch.randn(50, 1, generator=g, dtype=D)
    F = torch.cat([f, f + 0.3 * torch.randn(50, 1, generator=g, dtype=D)], 1)[None]
    assert repulsion_stats(F[0], 0.1)["sign_match"] == 1.0


def test_irreversibility_is_zero_for_reversible_and_positive_for_a_cycle():
    back_and_forth = torch.tensor([0, 1] * 50)
    cycle = torch.tensor([0, 1, 2, 3] * 25)
    assert abs(irreversibility(back_and_forth, 4)) < 1e-3  # 50 forward vs 49 backward: tiny, not 0
    assert irreversibility(cycle, 4) > 1.0
