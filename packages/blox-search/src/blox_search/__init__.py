"""blox-search: conventional and blockwise NAS over the Blox space, under one cost model.

Layout:

* :mod:`~blox_search.evaluators`: the :class:`Evaluator` protocol, :class:`TabularEvaluator`
  (answers from benchmark / finetune / surrogate stores), :class:`BlockwiseEvaluator` (teachers'
  finetune stores, normal training and the block libraries' costs) and the live evaluator;
* :mod:`~blox_search.cost`: seconds and FTE (:class:`CostModel`), the one home of units;
* :mod:`~blox_search.problem`: what an algorithm sees (:class:`Problem`);
* :mod:`~blox_search.algorithm`: the :class:`Algorithm` base and registry;
  :mod:`~blox_search.conventional`, :mod:`~blox_search.blockwise`, :mod:`~blox_search.oneshot`
  (DARTS-PT): the algorithms;
* :mod:`~blox_search.runner`: :func:`run_search` (seeds, budget, resumable search stores);
* :mod:`~blox_search.trajectory`: :class:`Trajectory`, :func:`open_search`.
"""

from __future__ import annotations

from . import blockwise, conventional, oneshot  # noqa: F401 - registers the algorithms
from .algorithm import Algorithm, get_algorithm, list_algorithms, register_algorithm
from .cost import CostModel, fte_seconds_of
from .errors import *  # noqa: F403
from .errors import __all__ as _errors_all
from .evaluators import BlockwiseEvaluator, BlockwiseView, Evaluation, Evaluator, TabularEvaluator
from .metrics import acc_at_budget, cost_at_target, default_target, summarize
from .pareto import hypervolume, pareto_mask, pareto_summary
from .problem import Problem
from .runner import run_search
from .space import CandidateSpace
from .trajectory import SearchRun, Trajectory, open_search

__version__ = "0.1.0"

__all__ = [
    "Algorithm",
    "BlockwiseEvaluator",
    "BlockwiseView",
    "CandidateSpace",
    "CostModel",
    "Evaluation",
    "Evaluator",
    "Problem",
    "SearchRun",
    "TabularEvaluator",
    "Trajectory",
    "acc_at_budget",
    "cost_at_target",
    "default_target",
    "fte_seconds_of",
    "get_algorithm",
    "hypervolume",
    "list_algorithms",
    "open_search",
    "pareto_mask",
    "pareto_summary",
    "register_algorithm",
    "run_search",
    "summarize",
    *_errors_all,
]
