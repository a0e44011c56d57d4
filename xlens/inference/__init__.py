"""Inference on the forward model: one parameter space, one compiled likelihood, gradients.

:class:`ParameterSpace` (:mod:`xlens.inference.space`) maps flat vectors to the
simulator's parameters and back, with priors; :class:`Likelihood`
(:mod:`xlens.inference.likelihood`) is the Gaussian log-likelihood of an image, compiled
once and differentiable, for MAP, MCMC, nested sampling and ensemble samplers;
:func:`fit_map` (multi-start Adam) and :func:`laplace` (the Gaussian approximation at a
mode) are in :mod:`xlens.inference.fitting`; :func:`pathfinder` (blackjax),
:func:`nuts_numpyro`, :func:`variational` (numpyro SVI) and :func:`nested` (dynesty, with
the evidence) in :mod:`xlens.inference.backends` (``pip install "xlens[infer]"``).
"""

from .backends import (
    NestedResult,
    Posterior,
    Problem,
    gaussian_elbo,
    nested,
    nuts_numpyro,
    pathfinder,
    problem,
    variational,
)
from .fitting import LaplaceResult, MapResult, fit_map, laplace
from .likelihood import Likelihood, likelihood
from .space import Parameter, ParameterSpace

__all__ = ["LaplaceResult", "Likelihood", "MapResult", "NestedResult", "Parameter", "ParameterSpace", "Posterior",
           "Problem", "fit_map", "gaussian_elbo", "laplace", "likelihood", "nested", "nuts_numpyro", "pathfinder",
           "problem", "variational"]
