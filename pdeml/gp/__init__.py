"""Gaussian-process regression on torch: exact GP with ARD Matérn-5/2 and RBF kernels."""

from pdeml.gp.exact import GaussianProcess, negative_log_marginal_likelihood
from pdeml.gp.kernels import KERNELS, covariance

__all__ = ["KERNELS", "GaussianProcess", "covariance", "negative_log_marginal_likelihood"]
