"""An empty module for the `builtin` namespace.

MLIR's bindings import a Python module for a dialect namespace the first time they hand back
one of its ops or attributes, and cache only a successful import. The CIRCT wheel ships no
`circt.dialects.builtin`, so without this module every builtin attribute access (each
`sym_name`, each integer) retried two failing imports, which made verification of large
designs seconds slower.
"""
