"""Where a PyTorch DTensor's local shard sits in its global tensor (issue 7).

fastinit's values are a pure function of the global index, so a rank fills its own shard with
``global_shape=``/``offset=`` and needs no communication: the gathered tensor equals the
single-process fill for every placement and mesh.
"""

from __future__ import annotations


def dtensor_block(tensor):
    """For a DTensor: (local tensor, global shape, offset of the local block). None otherwise.

    Raises ValueError for placements whose local shard is not one block of the global tensor
    (Partial, whose local values are summands; strided shards from FSDP2 + TP)."""
    try:
        from torch.distributed.tensor import DTensor
    except ImportError:  # torch built without distributed support
        return None
    if not isinstance(tensor, DTensor):
        return None
    from torch.distributed.tensor import Replicate, Shard
    from torch.distributed.tensor._utils import compute_local_shape_and_global_offset

    for placement in tensor.placements:
        if not (isinstance(placement, Replicate) or type(placement) is Shard):
            raise ValueError(
                f"fastinit fills DTensors placed with Shard(dim) or Replicate(); got "
                f"{placement!r}. Initialise before converting to this placement"
            )
    local = tensor.to_local()
    global_shape = tuple(tensor.shape)
    local_shape, offset = compute_local_shape_and_global_offset(
        global_shape, tensor.device_mesh, tensor.placements
    )
    if tuple(local_shape) != tuple(local.shape):
        raise ValueError(
            f"the local shard of shape {tuple(local.shape)} is not the block "
            f"{tuple(local_shape)} at {tuple(offset)} of the global tensor {global_shape}"
        )
    return local, global_shape, tuple(int(o) for o in offset)
