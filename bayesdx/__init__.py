"""bayesdx: Bayesian probabilistic diagnosis.

Load a network, give what is known, and get the posterior of every diagnosis and the next test
with the highest value of information:

>>> import bayesdx
>>> net = bayesdx.load_network("fasciculation")
>>> dx = bayesdx.diagnose(net, evidence={"age_band": "age_lt_40", "fasciculations_exam": "present"})
>>> dx.next_test in net.tests
True

The bundled clinical network is for teaching and research. It is not a medical device.
"""

from .exceptions import (
    BayesdxError,
    ImpossibleEvidenceError,
    InvalidEvidenceError,
    InvalidObjectiveError,
    InvalidParameterError,
    NetworkSpecError,
    NoReferenceStateWarning,
    NumericalRangeError,
    StateSpaceTooLargeError,
    TargetsRequiredError,
    UnknownNodeError,
    UnknownOrderError,
    UnknownStateError,
)
from .cohort import posteriors
from .decision import Action, DecisionModel
from .evaluate import Evaluation, evaluate, evaluate_self
from .io import NetworkNotFoundError, bundled_networks, load_network
from .learn import FitResult, fit
from .network import Network
from .orders import Order
from .plan import PlanProgress, PlanTooLargeError, Policy, PolicyNode, plan
from .ranking import Objective, StopAdvice
from .results import Diagnosis, diagnose
from .session import AlreadyObservedError, Session
from .simulate import SimulatedCases, simulate
from .uncertainty import Uncertainty, uncertainty
from . import sensitivity  # noqa: F401 - bayesdx.sensitivity.sweep(...) without importing it first
from ._plot_uncertainty import (  # matplotlib is imported on first use, not here
    plot_stability,
    plot_sweep,
    plot_tornado,
    plot_uncertainty,
)

__version__ = "0.2.0"


def __getattr__(name: str):
    # ``bayesdx.plotting`` on first use, so that ``import bayesdx`` never imports matplotlib.
    if name == "plotting":
        import importlib

        return importlib.import_module(".plotting", __name__)
    raise AttributeError(f"module 'bayesdx' has no attribute {name!r}")

__all__ = [
    "Action",
    "AlreadyObservedError",
    "BayesdxError",
    "DecisionModel",
    "Diagnosis",
    "Evaluation",
    "FitResult",
    "ImpossibleEvidenceError",
    "InvalidEvidenceError",
    "InvalidObjectiveError",
    "InvalidParameterError",
    "Network",
    "NetworkNotFoundError",
    "NetworkSpecError",
    "NoReferenceStateWarning",
    "NumericalRangeError",
    "Objective",
    "Order",
    "PlanProgress",
    "PlanTooLargeError",
    "Policy",
    "PolicyNode",
    "Session",
    "SimulatedCases",
    "StateSpaceTooLargeError",
    "StopAdvice",
    "TargetsRequiredError",
    "UnknownNodeError",
    "UnknownOrderError",
    "UnknownStateError",
    "Uncertainty",
    "bundled_networks",
    "diagnose",
    "evaluate",
    "evaluate_self",
    "fit",
    "load_network",
    "plan",
    "plot_stability",
    "plot_sweep",
    "plot_tornado",
    "plot_uncertainty",
    "posteriors",
    "simulate",
    "uncertainty",
]
