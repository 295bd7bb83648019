"""bayesdx: Bayesian probabilistic diagnosis."""
__version__ = "0.1.0"
