"""Tensor-like behaviour of synthetic sets: they stand in for the tensor ``image_syn`` of published loops.

Published distillation loops (MTT, DATM, DC/DSA, DM and the video codebases) keep their synthetic data in one
learnable tensor ``image_syn`` and use it through a handful of tensor operations. A synthetic set honours
those operations, so the loop keeps its lines:

* ``image_syn[idx]`` renders the videos ``idx`` (an int, a slice, a list, an integer or boolean tensor, or a
  tuple whose first entry is one of these) *with* their autograd graph, render hooks applied:
  ``x = syn_images[these_indices]`` and ``img_syn = image_syn[c * ipc:(c + 1) * ipc]`` stay as they are;
* ``image_syn.detach()`` renders every video once without graph and without render hooks (a plain
  ``[N, T, C, H, W]`` tensor), so evaluation (``image_syn.detach().clone()``) and saving
  (``torch.save(image_syn.detach().cpu(), ...)``) stay;
* ``len(image_syn)``, ``image_syn.shape``, ``.ndim``, ``.dim()``, ``.dtype``, ``.device`` describe that tensor;
  iterating yields its rows (rendered with graph);
* ``.to()``, ``.cuda()``, ``.cpu()``, ``.double()`` and ``.requires_grad_()`` keep their ``nn.Module`` meaning
  (in place, return the set); ``requires_grad_(True)`` is a no-op on a set whose parts are trainable (frozen
  parts are buffers and stay frozen);
* ``image_syn.data`` (e.g. ``image_syn.data[...] = real``) cannot be honoured: it raises
  :class:`~temporal_condense.errors.TensorOpError` saying what to write instead.

Random choices made while rendering (the static/dynamic pairing) draw from torch's global RNG here.
"""

from __future__ import annotations

import operator
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, cast

import torch
from torch import nn

from temporal_condense.errors import ShapeError, TensorOpError

__all__ = ["TensorLikeMixin"]


def _video_indices(index: object, n: int) -> tuple[torch.Tensor, bool]:
    """Turn a tensor-style index over the video axis into int64 indices and a "drop the axis" flag."""
    if index is None or index is Ellipsis:
        return torch.arange(n), False
    if isinstance(index, slice):
        return torch.arange(n)[index], False
    if isinstance(index, torch.Tensor):
        if index.dtype == torch.bool:
            if index.shape != (n,):
                raise ShapeError(
                    f"a boolean index must have shape ({n},) (one entry per video), got {tuple(index.shape)}"
                )
            return index.nonzero().flatten(), False
        if index.is_floating_point() or index.is_complex():
            raise ShapeError(f"index must be an integer or boolean tensor, got dtype {index.dtype}")
        if index.ndim == 0:
            return index.reshape(1).to(torch.int64), True
        if index.ndim != 1:
            raise ShapeError(f"index must be a 1-D tensor of video indices, got shape {tuple(index.shape)}")
        return index.to(torch.int64), False
    if not isinstance(index, bool):
        try:
            return torch.tensor([operator.index(index)], dtype=torch.int64), True  # type: ignore[arg-type]
        except TypeError:
            pass
    try:
        return _video_indices(torch.as_tensor(index), n)
    except (TypeError, ValueError, RuntimeError):
        raise ShapeError(
            "index must be an int, a slice, a list of ints or an integer/boolean tensor over the videos, "
            f"got {type(index).__name__}"
        ) from None


class TensorLikeMixin:
    """The tensor operations of published loops, on a :class:`~temporal_condense.synthetic.SyntheticSet`.

    Shape:
        - ``synset[idx]``: ``[len(idx), T, C, H, W]`` (an int index drops the first axis: ``[T, C, H, W]``).
        - ``synset.detach()`` and ``synset.shape``: ``[N, T, C, H, W]`` with ``N = len(synset)``.

    Example:
        >>> import torch
        >>> from temporal_condense import SyntheticVideos
        >>> image_syn = SyntheticVideos(num_classes=2, videos_per_class=2, frames=4, size=(3, 3), seed=0)
        >>> x = image_syn[torch.tensor([3, 0])]
        >>> tuple(x.shape), x.requires_grad
        ((2, 4, 3, 3, 3), True)
        >>> image_syn.shape, image_syn.detach().requires_grad
        (torch.Size([4, 4, 3, 3, 3]), False)
    """

    if TYPE_CHECKING:  # provided by SyntheticSet

        @property
        def frames(self) -> int: ...

        @property
        def channels(self) -> int: ...

        @property
        def size(self) -> tuple[int, int]: ...

        def __len__(self) -> int: ...

        def _device(self) -> torch.device: ...

        def _parts(self) -> dict[str, list[torch.Tensor]]: ...

        def export(self, generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]: ...

    def __getitem__(self, index: object) -> torch.Tensor:
        """Render the videos selected by ``index`` with their graph (render hooks applied)."""
        rest: tuple[Any, ...] = ()
        if isinstance(index, tuple):
            whole: tuple[Any, ...] = index
            index, rest = (whole[0], whole[1:]) if whole else (None, ())
        n = len(self)
        idx, drop = _video_indices(index, n)
        if idx.numel() and (int(idx.min()) < -n or int(idx.max()) >= n):
            bad = int(idx.min()) if int(idx.min()) < -n else int(idx.max())
            raise ShapeError(f"index {bad} is out of range for a synthetic set of {n} videos")
        idx = torch.where(idx < 0, idx + n, idx)
        videos, _ = cast(nn.Module, self)(idx.to(self._device()))
        if videos.shape[0] != idx.numel():
            raise ShapeError(
                f"a render hook changed the number of videos from {idx.numel()} to {videos.shape[0]}, so "
                "synset[idx] no longer lines up with the loop's labels; call videos, labels = synset(idx) instead"
            )
        out = videos[0] if drop else videos
        return out[rest] if rest else out

    def __iter__(self) -> Iterator[torch.Tensor]:
        for i in range(len(self)):
            yield self[i]

    def detach(self) -> torch.Tensor:
        """All videos rendered once, without graph and without render hooks (like ``tensor.detach()``).

        Returns:
            ``[N, T, C, H, W]`` (random pairings drawn from torch's global RNG; see ``export`` for a generator).
        """
        return self.export()[0]

    @property
    def shape(self) -> torch.Size:
        """``torch.Size([N, T, C, H, W])`` of the rendered set (what :meth:`detach` returns)."""
        return torch.Size((len(self), self.frames, self.channels, *self.size))

    @property
    def ndim(self) -> int:
        """5 (videos ``[N, T, C, H, W]``)."""
        return 5

    def dim(self) -> int:
        """5 (videos ``[N, T, C, H, W]``)."""
        return 5

    @property
    def dtype(self) -> torch.dtype:
        """The floating dtype the videos are rendered in."""
        for tensor in cast(nn.Module, self).state_dict().values():
            if tensor.is_floating_point():
                return tensor.dtype
        return torch.get_default_dtype()

    @property
    def device(self) -> torch.device:
        """Where the set's tensors (and the rendered videos) live."""
        return self._device()

    def _data_error(self) -> TensorOpError:
        kind = type(self).__name__
        return TensorOpError(
            f"{kind} has no tensor .data: it renders videos from its parts "
            f"({', '.join(self._parts())}) instead of storing one tensor. To start from real clips, build it "
            f"from the tensor your init block filled: image_syn = {kind}.from_videos(image_syn, videos_per_class) "
            f"(or {kind}.from_dataset(dataset, videos_per_class, init='real')); to write a part, use "
            "`with torch.no_grad(): synset.<part>.copy_(...)`; to read the videos, use synset.detach()"
        )

    def __getattr__(self, name: str) -> Any:
        # nn.Module.__getattr__ serves parameters, buffers and submodules; ``data`` gets a named error.
        if name == "data":
            raise self._data_error()
        return nn.Module.__getattr__(cast(nn.Module, self), name)

    def _set_data(self, value: object) -> None:
        raise self._data_error()

    data = property(None, _set_data, doc="Not available on a synthetic set: raises TensorOpError.")
