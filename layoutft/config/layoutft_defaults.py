"""Defaults of the ``LAYOUTFT`` config node: the keys that only layoutft reads.

detectron2's own keys live in :mod:`layoutft.config.defaults` and keep detectron2's
meaning; every key that layoutft adds goes here, under ``LAYOUTFT``, so a detectron2
config file never collides with ours and a dump of our config stays readable by
detectron2 once the ``LAYOUTFT`` node is removed.
"""

from __future__ import annotations

from typing import Any

LAYOUTFT_DEFAULTS: dict[str, Any] = {
    # Class names in model order: LABELS[i] is the name of class index i (0..K-1).
    "LABELS": [],
    # Initialising from weights with other classes (layoutft train --weights): a model class
    # the checkpoint lacks starts from the class-head rows of the checkpoint class named here
    # (name matches win). Entries: [model class, checkpoint class] pairs, or the name of a
    # built-in map (layoutft.checkpoint.heads.BUILTIN_CLASS_MAPS: doclaynet-from-publaynet).
    "INIT_CLASS_MAP": [],
    # Resolution (dots per inch) of the page images the model was trained on; PDF pages
    # are rendered at this DPI so text has the size the model expects.
    "INPUT_DPI": 200,
    # Training (layoutft train); detectron2's SOLVER/INPUT/DATALOADER keys keep their meaning.
    "SOLVER": {
        # "SGD" (momentum SOLVER.MOMENTUM, nesterov SOLVER.NESTEROV) or "AdamW".
        "OPTIMIZER": "SGD",
        "ADAM_BETAS": (0.9, 0.999),
        # autocast dtype when SOLVER.AMP.ENABLED on CUDA: "bfloat16" or "float16" (grad scaling).
        "AMP_DTYPE": "bfloat16",
        # > 0: train this many epochs (MAX_ITER from the dataset size; STEPS keep their
        # fraction of the configured MAX_ITER). 0: use SOLVER.MAX_ITER.
        "EPOCHS": 0.0,
        # Linear scaling rule: BASE_LR, MAX_ITER, STEPS, WARMUP_ITERS, CHECKPOINT_PERIOD and
        # TEST.EVAL_PERIOD are tuned for this many images per batch; when SOLVER.IMS_PER_BATCH
        # differs they are rescaled (LR x k, iterations / k, k = IMS_PER_BATCH / this). 0: off.
        "REFERENCE_IMS_PER_BATCH": 0,
    },
    # Training data order (detectron2's DATALOADER keys keep their meaning).
    "DATALOADER": {
        # "TrainingSampler": every page once per epoch, shuffled. "SourceBalancedSampler":
        # each page drawn first picks a source (the merged COCO's image "source" field, see
        # `layoutft merge`) by SOURCE_WEIGHTS, then that source's next page, so a small
        # source is repeated and a large one subsampled.
        "SAMPLER_TRAIN": "TrainingSampler",
        # [[source name, weight], ...]: a source's share of the drawn pages is its weight
        # over the sum; unlisted sources weigh 1.0 (so [] = equal shares); 0 leaves it out.
        "SOURCE_WEIGHTS": [],
    },
    # Partial labels: a page whose COCO record has ``labelled_category_ids`` (the classes
    # annotated exhaustively on it) trains only on what it says about those classes (the
    # box classifier ignores the other classes on its background samples; the RPN ignores
    # its negative anchors). False: train as if every page labelled every class.
    "PARTIAL_LABELS": True,
    # Document augmentations (training only). (low, high) ranges; probabilities in [0, 1].
    "AUG": {
        "BRIGHTNESS": (1.0, 1.0),  # multiply pixel values by a factor in this range
        "CONTRAST": (1.0, 1.0),  # scale the deviation from the mean grey by a factor in range
        "JPEG_PROB": 0.0,
        "JPEG_QUALITY": (40, 95),
        "BLUR_PROB": 0.0,
        "BLUR_SIGMA": (0.3, 1.0),  # Gaussian blur radius in pixels
        "NOISE_PROB": 0.0,
        "NOISE_STD": (2.0, 8.0),  # additive Gaussian noise, grey levels
        "ROTATION_PROB": 0.0,
        "ROTATION_DEG": 0.0,  # uniform in [-deg, deg], boxes recomputed from rotated polygons
    },
    # Console/metrics.jsonl/TensorBoard line every LOG_PERIOD iterations.
    "LOG_PERIOD": 20,
}
