"""Front ends that produce intar task graphs."""

from intar.frontend.builder import Graph, GraphError, Tensor

__all__ = ["Graph", "GraphError", "Tensor"]
