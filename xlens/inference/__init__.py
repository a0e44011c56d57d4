"""Inference on the forward model: one parameter space, one compiled likelihood, gradients.

:class:`ParameterSpace` (:mod:`xlens.inference.space`) maps flat vectors to the
simulator's parameters and back, with priors; :class:`Likelihood`
(:mod:`xlens.inference.likelihood`) is the Gaussian log-likelihood of an image, compiled
once and differentiable, for MAP, MCMC, nested sampling and ensemble samplers.
"""

from .likelihood import Likelihood, likelihood
from .space import Parameter, ParameterSpace

__all__ = ["Likelihood", "Parameter", "ParameterSpace", "likelihood"]
