"""Former home of the named experiments; they live in `normtheory.regimes` now.

`from normtheory.experiments import EXPERIMENTS, get_experiment` keeps working for
scripts written against it; new code imports them from `normtheory.regimes`.
"""

from __future__ import annotations

from normtheory.regimes import EXPERIMENTS as EXPERIMENTS
from normtheory.regimes import Experiment as Experiment
from normtheory.regimes import get_experiment as get_experiment

__all__ = ["EXPERIMENTS", "Experiment", "get_experiment"]
