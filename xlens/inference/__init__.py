"""Inference on the forward model: one parameter space, one compiled likelihood, gradients.

:class:`ParameterSpace` (:mod:`xlens.inference.space`) maps flat vectors to the
simulator's parameters and back, with priors; :class:`Likelihood`
(:mod:`xlens.inference.likelihood`) is the Gaussian log-likelihood of an image, compiled
once and differentiable, for MAP, MCMC, nested sampling and ensemble samplers;
:func:`fit_map` (multi-start Adam) and :func:`laplace` (the Gaussian approximation at a
mode) are in :mod:`xlens.inference.fitting`.
"""

from .fitting import LaplaceResult, MapResult, fit_map, laplace
from .likelihood import Likelihood, likelihood
from .space import Parameter, ParameterSpace

__all__ = ["LaplaceResult", "Likelihood", "MapResult", "Parameter", "ParameterSpace", "fit_map", "laplace",
           "likelihood"]
