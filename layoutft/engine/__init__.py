"""Training and evaluation: the loop with hooks, solver, checkpoints, COCO AP, DDP.

Entry points: :func:`layoutft.engine.run.train` (a whole run from
:class:`layoutft.engine.setup.TrainOptions`) and
:func:`layoutft.engine.evaluation.evaluate_model`. Nothing is imported here, so
``import layoutft.engine`` stays light.
"""
