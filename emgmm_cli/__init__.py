"""emgmm: Gaussian mixture clustering by expectation-maximisation, at the command line."""

__version__ = "0.1.0"
