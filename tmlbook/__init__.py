"""tmlbook: the code behind *Trustworthy ML, the executable textbook*.

Every function a chapter shows lives here, so the code a reader sees is the
code that runs.  Modules, one per topic:

- :mod:`tmlbook.device`       -- ``get_device``, ``set_seed``, quiet progress bars
- :mod:`tmlbook.checks`       -- every input check, with errors that name the problem
- :mod:`tmlbook.data`         -- the digits data with fixed splits, shortcut cues
- :mod:`tmlbook.models`       -- every model class: ``MLP``, ``SmallCNN``, ``BNMLP``,
  ``DomainAdaptNet``
- :mod:`tmlbook.training`     -- the one training loop ``fit`` (with a loss hook
  that the topic methods use), ``evaluate``, ``predict_proba``
- :mod:`tmlbook.foundations`  -- L1: ERM, cross-entropy, generalisation gap
- :mod:`tmlbook.shift`        -- L2: covariate/label shift, DG protocols, CORAL, DANN
- :mod:`tmlbook.cues`         -- L3: cue conflicts, spurious groups, Group DRO, JTT, IRM
- :mod:`tmlbook.robustness`   -- L4: FGSM, PGD, BPDA, black-box attacks, smoothing, TENT
- :mod:`tmlbook.scoring`      -- L9: MSP/entropy/margin, log and Brier scores, MI, AURC
- :mod:`tmlbook.calibration`  -- L10: ECE/MCE, reliability bins, temperature scaling
- :mod:`tmlbook.ood`          -- L10/L11: AUROC, AUPR, FPR@TPR, OOD scores
- :mod:`tmlbook.bayesian`     -- L11: ensembles, MC dropout, BBB, SWAG, Laplace
- :mod:`tmlbook.aleatoric`    -- L12: Gaussian NLL, CRPS, MDN, winner-takes-all
- :mod:`tmlbook.conformal`    -- L12: split conformal (LAC, APS)
- :mod:`tmlbook.llm_uncertainty` -- L12: generated QA data, semantic entropy
- :mod:`tmlbook.attribution`  -- L5-L6: saliency, IG, SmoothGrad, Grad-CAM, SHAP, TCAV
- :mod:`tmlbook.data_attribution` -- L7: influence, LiSSA, Lanczos, TracIn, LDS
- :mod:`tmlbook.privacy`      -- L13: membership inference, canaries, DP-SGD, unlearning
- :mod:`tmlbook.security`     -- L13: model extraction, GCG-style suffixes, watermarks
- :mod:`tmlbook.fairness`     -- L13: demographic parity, equalised odds
- :mod:`tmlbook.evaluation`   -- L14: bootstrap, McNemar, random search, Ladder
- :mod:`tmlbook.plotting`     -- small figure helpers
"""

from tmlbook.device import get_device, set_seed

__all__ = ["get_device", "set_seed"]
__version__ = "0.1.0"
