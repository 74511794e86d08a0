"""coresweep's Hydra plugins: the sweeper that plans rounds, the launcher that isolates jobs.

Hydra imports every module of the ``hydra_plugins`` namespace when any Hydra app starts, so
these modules import only Hydra and dataclasses; coresweep's own code is imported inside
``sweep()`` and ``launch()``.
"""
