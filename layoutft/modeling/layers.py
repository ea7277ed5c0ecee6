"""Building blocks shared by the backbone and heads: frozen BN, conv with norm, norm factory."""

from __future__ import annotations

import contextlib
from collections.abc import Callable

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from layoutft.errors import ConfigError


class FrozenBatchNorm2d(nn.Module):
    """BatchNorm2d with fixed statistics and affine parameters (detectron2's FrozenBN).

    Holds the buffers ``weight``, ``bias``, ``running_mean`` and ``running_var`` (no
    ``num_batches_tracked``), so BN checkpoints load into it one to one. Caffe2 weights that
    carry only a folded ``weight``/``bias`` leave the statistics at the identity.
    """

    weight: Tensor
    bias: Tensor
    running_mean: Tensor
    running_var: Tensor

    def __init__(self, num_features: int, eps: float = 1e-5) -> None:
        super().__init__()
        self.num_features = num_features
        self.eps = eps
        self.register_buffer("weight", torch.ones(num_features))
        self.register_buffer("bias", torch.zeros(num_features))
        self.register_buffer("running_mean", torch.zeros(num_features))
        # ones - eps makes the identity exact: (x - 0) / sqrt(1 - eps + eps) == x
        self.register_buffer("running_var", torch.ones(num_features) - eps)

    def scale_shift(self) -> tuple[Tensor, Tensor]:
        """The affine map this layer applies, ``x * scale + shift``: two float32 [C]."""
        scale = self.weight * (self.running_var + self.eps).rsqrt()
        return scale, self.bias - self.running_mean * scale

    def fold_into(self, weight: Tensor, bias: Tensor | None) -> tuple[Tensor, Tensor]:
        """(weight, bias) of a conv whose output equals this layer applied to ``conv(x,
        weight, bias)``; ``weight`` [C, Cin, kh, kw], ``bias`` [C] or None."""
        scale, shift = self.scale_shift()
        folded_bias = shift if bias is None else bias * scale + shift
        return weight * scale.reshape(-1, 1, 1, 1), folded_bias

    def forward(self, x: Tensor) -> Tensor:
        if x.requires_grad:
            # batch_norm's backward would also build gradients for the frozen buffers
            scale, shift = self.scale_shift()
            return x * scale.reshape(1, -1, 1, 1).to(x.dtype) + shift.reshape(1, -1, 1, 1).to(
                x.dtype
            )
        return F.batch_norm(
            x, self.running_mean, self.running_var, self.weight, self.bias, False, 0.0, self.eps
        )

    def extra_repr(self) -> str:
        return f"{self.num_features}, eps={self.eps}"

    @classmethod
    def convert(cls, module: nn.Module) -> nn.Module:
        """Replace every BatchNorm2d/SyncBatchNorm in ``module`` by a frozen copy (in place).

        Returns the new module when ``module`` itself is a batch norm, else ``module``.
        """
        if isinstance(module, (nn.BatchNorm2d, nn.SyncBatchNorm)):
            frozen = cls(module.num_features, module.eps)
            if module.affine:
                frozen.weight.copy_(module.weight.detach())
                frozen.bias.copy_(module.bias.detach())
            if module.running_mean is not None and module.running_var is not None:
                frozen.running_mean.copy_(module.running_mean)
                frozen.running_var.copy_(module.running_var)
            return frozen
        for name, child in module.named_children():
            new_child = cls.convert(child)
            if new_child is not child:
                module.add_module(name, new_child)
        return module


_NORMS: dict[str, Callable[[int], nn.Module]] = {
    "BN": nn.BatchNorm2d,
    # nn.SyncBatchNorm runs as plain BN outside an initialised multi-process group
    "SyncBN": nn.SyncBatchNorm,
    "nnSyncBN": nn.SyncBatchNorm,
    "naiveSyncBN": nn.SyncBatchNorm,
    "FrozenBN": FrozenBatchNorm2d,
    "GN": lambda channels: nn.GroupNorm(32, channels),
}


def get_norm(norm: str, channels: int) -> nn.Module | None:
    """Normalization layer named like detectron2's ``NORM`` config values ("" means none)."""
    if not norm:
        return None
    factory = _NORMS.get(norm)
    if factory is None:
        raise ConfigError(
            f"unsupported NORM {norm!r}; use one of {', '.join(repr(n) for n in _NORMS)} or ''"
        )
    return factory(channels)


class Conv2d(nn.Conv2d):
    """``nn.Conv2d`` followed by an optional norm (child ``norm``) and activation.

    The child name ``norm`` gives detectron2's state-dict keys (``conv1.norm.running_mean``).
    """

    def __init__(
        self,
        *args: int,
        norm: nn.Module | None = None,
        activation: Callable[[Tensor], Tensor] | None = None,
        **kwargs: int | bool,
    ) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.norm = norm
        self.activation = activation

    def forward(self, x: Tensor) -> Tensor:
        weight, bias, norm = self.weight, self.bias, self.norm
        if isinstance(norm, FrozenBatchNorm2d) and not torch.is_grad_enabled():
            # inference: folding the frozen affine into the conv saves a pass over the
            # output (~6% of an R50-FPN page on CPU); training keeps conv then BN exactly
            weight, bias = norm.fold_into(weight, bias)
            norm = None
        x = F.conv2d(x, weight, bias, self.stride, self.padding, self.dilation, self.groups)
        if norm is not None:
            x = norm(x)
        if self.activation is not None:
            x = self.activation(x)
        return x


def conv_precision(
    device: torch.device, dtype: torch.dtype | None
) -> contextlib.AbstractContextManager[object]:
    """Context running convolutions (and matmuls) in ``dtype`` on ``device`` via autocast;
    None: a no-op (float32). Callers cast the outputs back to float32."""
    if dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(device.type, dtype=dtype)


def msra_fill(module: nn.Conv2d | nn.ConvTranspose2d) -> None:
    """He-normal init (fan_out, ReLU) with zero bias, detectron2's choice for ResNet/mask convs."""
    nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
    if module.bias is not None:
        nn.init.zeros_(module.bias)


def xavier_fill(module: nn.Conv2d | nn.Linear) -> None:
    """Caffe2's XavierFill (uniform, a=1) with zero bias, used for FPN convs and box-head FCs."""
    nn.init.kaiming_uniform_(module.weight, a=1)
    if module.bias is not None:
        nn.init.zeros_(module.bias)
