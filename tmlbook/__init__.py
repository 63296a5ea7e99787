"""tmlbook: the code behind *Trustworthy ML, the executable textbook*.

Every function a chapter shows lives here, so the code a reader sees is the
code that runs.  Modules, one per topic:

- :mod:`tmlbook.device`       -- ``get_device``, ``set_seed``, quiet progress bars
- :mod:`tmlbook.data`         -- the digits data with fixed splits, shortcut cues
- :mod:`tmlbook.models`       -- ``MLP`` and ``SmallCNN`` for 8x8 digits
- :mod:`tmlbook.training`     -- ``fit``, ``evaluate``, ``predict_proba``
- :mod:`tmlbook.foundations`  -- L1: ERM, cross-entropy, generalisation gap
- :mod:`tmlbook.shift`        -- L2: covariate/label shift, DG protocols, CORAL, DANN
- :mod:`tmlbook.cues`         -- L3: cue conflicts, spurious groups, Group DRO, JTT, IRM
- :mod:`tmlbook.robustness`   -- L4: FGSM, PGD, BPDA, black-box attacks, smoothing, TENT
- :mod:`tmlbook.attribution`  -- L5-L6: saliency, IG, SmoothGrad, Grad-CAM, SHAP, TCAV
- :mod:`tmlbook.data_attribution` -- L7: influence, LiSSA, Lanczos, TracIn, LDS
- :mod:`tmlbook.plotting`     -- small figure helpers
"""

from tmlbook.device import get_device, set_seed

__all__ = ["get_device", "set_seed"]
__version__ = "0.1.0"
