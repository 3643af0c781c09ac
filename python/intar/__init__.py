"""intar: a compiler from DNN multi-task kernels to InTAR-style FPGA accelerators."""

__version__ = "0.1.0"
