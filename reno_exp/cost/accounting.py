"""One dry-run iterate, counted: bytes kept for backward, live bytes over time, FLOPs, by part.

- kept: every tensor autograd saves for the backward pass (``saved_tensors_hooks``), each storage once,
  weights excluded (they are resident anyway). Inside a gradient-checkpointed block only its inputs are
  saved; what it recomputes in the backward pass is transient.
- live: every storage an operation creates, from its creation until it is freed (a weak reference to
  the storage), so the highest point of forward plus backward is the peak of activations, gradients and
  working tensors; the transient of a part is how far live bytes rise above what is kept while it runs.
- FLOPs: the formulas of ``torch.utils.flop_counter`` (matrix products, convolutions, attention), forward
  and backward.
Parts: in the forward pass, the module running each operation: the denoiser, the VAE, each reward,
"other" for the glue between them (scheduler, preprocessing, regulariser).
Each autograd node is tagged with the part that created it, and a backward operation belongs to the
part of the node being run (module hooks cannot tell, in the backward pass, which of four rewards that
read the same image is running).
"""

from __future__ import annotations

import contextlib
import weakref
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field

import torch
from torch import nn
from torch.nn.modules.module import register_module_forward_hook, register_module_forward_pre_hook
from torch.overrides import TorchFunctionMode
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_leaves
from torch.utils.flop_counter import flop_registry

from reno_exp.cost.dryrun import DryRun


def storage_key(t: torch.Tensor) -> int:
    return t.untyped_storage()._cdata


def nbytes(t: torch.Tensor) -> int:
    return t.untyped_storage().nbytes()


@dataclass
class Counts:
    """What one iterate of ``batch`` items did, in bytes and FLOPs, by part."""

    batch: int
    kept: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    transient: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    flops: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    peak: int = 0  # the highest live activation + gradient bytes, weights and conditioning excluded
    grads: list[torch.Tensor] = field(default_factory=list)  # each item's noise gradient (meta)


class Parts:
    """The part running now: in the forward pass, that of the innermost module of a part being called
    (global module hooks: ``vae.decode`` calls the decoder, not ``vae``); in the backward pass, the tag of
    the autograd node being run. Forward-only hooks: torch's ModuleTracker also hooks the backward pass,
    and the graph nodes it holds keep recomputed activations alive past their use."""

    def __init__(self, modules: dict[str, list[nn.Module]]):
        self.part_of = {id(m): part for part, tops in modules.items() for top in tops for m in top.modules()}
        self.stack = ["other"]

    def pre(self, module, args) -> None:
        self.stack.append(self.part_of.get(id(module), self.stack[-1]))

    def post(self, module, args, output) -> None:
        self.stack.pop()

    @contextlib.contextmanager
    def tracking(self) -> Iterator[None]:
        pre = register_module_forward_pre_hook(self.pre)
        post = register_module_forward_hook(self.post, always_call=True)
        try:
            yield
        finally:
            pre.remove()
            post.remove()

    def forward_part(self) -> str:
        return self.stack[-1]

    def __call__(self) -> str:
        if torch._C._current_graph_task_id() == -1:
            return self.stack[-1]
        node = torch._C._current_autograd_node()
        return node.metadata.get("part", "other") if node is not None else "other"


class Tag(TorchFunctionMode):
    """Tag the autograd nodes made in the forward pass with the part that made them. A mode sees only
    the outermost call (a Python function's inner operations run with the mode off), so ``inherit``
    then gives each untagged node the part of the node that consumes its output."""

    def __init__(self, parts: Parts):
        super().__init__()
        self.parts = parts

    def __torch_function__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        for t in tree_leaves(out):
            if isinstance(t, torch.Tensor) and t.grad_fn is not None and "part" not in t.grad_fn.metadata:
                t.grad_fn.metadata["part"] = self.parts.forward_part()
        return out


def inherit(root) -> None:
    stack = [root]
    root.metadata.setdefault("part", "other")
    while stack:
        node = stack.pop()
        for child, _ in node.next_functions:
            if child is None or "inherited" in child.metadata:
                continue
            child.metadata["inherited"] = True
            child.metadata.setdefault("part", node.metadata["part"])
            stack.append(child)


class Live(TorchDispatchMode):
    """Live bytes of the storages operations create (the peak, and each part's rise above what is kept),
    and FLOPs, by part."""

    def __init__(self, counts: Counts, part, ignore: set[int]):
        super().__init__()
        self.counts, self.part, self.ignore = counts, part, ignore
        self.sizes: dict[int, int] = {}
        self.kept: dict[int, int] = {}  # the saved storages still alive, and their total
        self.live = self.kept_total = 0

    def keep(self, t: torch.Tensor) -> int | None:
        """Count a tensor saved for backward once; its bytes, or None if counted already or resident."""
        key = storage_key(t)
        if key in self.ignore or key in self.kept:
            return None
        self.track(t)
        self.kept[key] = n = nbytes(t)
        self.kept_total += n
        return n

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        for t in tree_leaves(out):
            if isinstance(t, torch.Tensor):
                self.track(t)
        c, part = self.counts, self.part()
        c.peak = max(c.peak, self.live)
        c.transient[part] = max(c.transient[part], self.live - self.kept_total)
        formula = flop_registry.get(func._overloadpacket)
        if formula is not None:
            c.flops[part] += formula(*args, **(kwargs or {}), out_val=out)
        return out

    def track(self, t: torch.Tensor) -> None:
        key = storage_key(t)
        if key in self.sizes or key in self.ignore:
            return
        self.sizes[key] = n = nbytes(t)
        self.live += n
        weakref.finalize(t.untyped_storage(), self.free, key)

    def free(self, key: int) -> None:
        self.live -= self.sizes.pop(key)
        self.kept_total -= self.kept.pop(key, 0)


def count(dry: DryRun, batch: int, reg_weight: float = 0.01) -> Counts:
    """Counts of one iterate (forward and backward to the noises) of ``batch`` items."""
    cond, prepared = dry.conditioning(batch)
    zs = dry.noises(batch)
    resident = [*dry.generator.parameters(), *dry.generator.buffers(), *dry.rewards.parameters(),
                *dry.rewards.buffers(), *zs, *tree_leaves((cond, prepared))]
    ignore = {storage_key(t) for t in resident if isinstance(t, torch.Tensor)}
    counts = Counts(batch)
    part = Parts(dry.parts())
    live = Live(counts, part, ignore)

    def pack(t: torch.Tensor) -> torch.Tensor:
        n = live.keep(t)
        if n is not None:
            counts.kept[part()] += n
        return t

    with part.tracking(), live:
        with Tag(part), torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
            loss = dry.forward(cond, prepared, zs, reg_weight)
        inherit(loss.grad_fn)
        dry.backward(loss)
    counts.grads = [z.grad for z in zs]
    return counts
