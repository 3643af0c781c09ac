//===- IntarOps.td - intar task-level operations ------------*- tablegen -*-===//
//
// Task-level ops. Tensors are ranked with signless integer elements read as
// two's-complement signed values: i4, i8 and i16 for activations and weights,
// i32 for accumulations. Every task carries a `sym_name`, unique in its graph,
// through which the schedule refers to it.
//
//===----------------------------------------------------------------------===//

#ifndef INTAR_OPS_TD
#define INTAR_OPS_TD

include "IntarDialect.td"
include "mlir/IR/SymbolInterfaces.td"
include "mlir/IR/CommonAttrConstraints.td"
include "mlir/IR/CommonTypeConstraints.td"
include "mlir/Interfaces/SideEffectInterfaces.td"

def Intar_Element : AnyTypeOf<[I<4>, I8, I16, I32]>;
def Intar_Tensor : RankedTensorOf<[I<4>, I8, I16, I32]>;

//===----------------------------------------------------------------------===//
// Graph structure
//===----------------------------------------------------------------------===//

def Intar_GraphOp : Intar_Op<"graph", [Symbol, IsolatedFromAbove, SingleBlock]> {
  let summary = "A DAG of tasks over ranked integer tensors";
  let description = [{
    The body holds `intar.input` and `intar.weight` leaves, the tasks, and an
    `intar.output` terminator that names the graph results. Ops appear in a
    topological order; the graph must be acyclic.
  }];
  let arguments = (ins SymbolNameAttr:$sym_name);
  let regions = (region SizedRegion<1>:$body);
}

def Intar_InputOp : Intar_Op<"input", [Pure]> {
  let summary = "A graph input, streamed in from off-chip memory";
  let arguments = (ins StrAttr:$sym_name);
  let results = (outs Intar_Tensor:$result);
}

def Intar_WeightOp : Intar_Op<"weight", [Pure]> {
  let summary = "A constant tensor: explicit values or a deterministic seed";
  let description = [{
    Exactly one of `value` (dense integer elements) or `seed` is present. A
    seeded weight is drawn uniformly over its element type's range by
    `intar.golden.weights.materialize`, so large models need no stored data.
  }];
  let arguments = (ins StrAttr:$sym_name, OptionalAttr<ElementsAttr>:$value,
                       OptionalAttr<I64Attr>:$seed);
  let results = (outs Intar_Tensor:$result);
}

def Intar_OutputOp : Intar_Op<"output", [Terminator, HasParent<"GraphOp">]> {
  let summary = "Graph results";
  let arguments = (ins Variadic<Intar_Tensor>:$results);
}

//===----------------------------------------------------------------------===//
// Compute tasks (PE-array work)
//===----------------------------------------------------------------------===//

class Intar_TaskOp<string mnemonic, list<Trait> traits = []>
    : Intar_Op<mnemonic, !listconcat(traits, [Pure])>;

def Intar_MatmulOp : Intar_TaskOp<"matmul"> {
  let summary = "Matrix product with int32 accumulation and fused requantize";
  let description = [{
    `lhs` is [M, K] or [B, M, K]; `rhs` is [K, N] (or [N, K] with
    `transpose_rhs`), optionally with the same leading batch dimension. Products
    accumulate in int32 (wrapping); the sum is then rounded-shifted right by
    `shift` and saturated to the result element type, with 0 as the lower
    bound when `relu` is set (a fused relu).
  }];
  let arguments = (ins StrAttr:$sym_name, Intar_Tensor:$lhs, Intar_Tensor:$rhs,
                       UnitAttr:$transpose_rhs,
                       DefaultValuedAttr<I64Attr, "0">:$shift,
                       UnitAttr:$relu);
  let results = (outs Intar_Tensor:$result);
}

def Intar_Conv2dOp : Intar_TaskOp<"conv2d"> {
  let summary = "2-D cross-correlation, CHW input, OCHW filter";
  let description = [{
    Accumulates in int32 like `matmul`, then rounds-shifts by `shift` and
    saturates, with 0 as the lower bound when `relu` is set.
  }];
  let arguments = (ins StrAttr:$sym_name, Intar_Tensor:$input,
                       Intar_Tensor:$filter,
                       DefaultValuedAttr<I64Attr, "1">:$stride,
                       DefaultValuedAttr<I64Attr, "0">:$padding,
                       DefaultValuedAttr<I64Attr, "0">:$shift,
                       UnitAttr:$relu);
  let results = (outs Intar_Tensor:$result);
}

def Intar_ConvTranspose2dOp : Intar_TaskOp<"conv_transpose2d"> {
  let summary = "2-D transposed convolution, CHW input, IOHW filter";
  let description = [{
    Accumulates in int32 like `matmul`, then rounds-shifts by `shift` and
    saturates, with 0 as the lower bound when `relu` is set.
  }];
  let arguments = (ins StrAttr:$sym_name, Intar_Tensor:$input,
                       Intar_Tensor:$filter,
                       DefaultValuedAttr<I64Attr, "1">:$stride,
                       DefaultValuedAttr<I64Attr, "0">:$padding,
                       DefaultValuedAttr<I64Attr, "0">:$shift,
                       UnitAttr:$relu);
  let results = (outs Intar_Tensor:$result);
}

//===----------------------------------------------------------------------===//
// Element-wise and special-function tasks
//===----------------------------------------------------------------------===//

class Intar_BinaryOp<string mnemonic> : Intar_TaskOp<mnemonic> {
  let arguments = (ins StrAttr:$sym_name, Intar_Tensor:$lhs, Intar_Tensor:$rhs,
                       DefaultValuedAttr<I64Attr, "0">:$shift);
  let results = (outs Intar_Tensor:$result);
}

def Intar_AddOp : Intar_BinaryOp<"add"> {
  let summary = "Element-wise sum, rounded-shifted and saturated";
  let description = [{ `rhs` has the shape of `lhs` or of a suffix of it. }];
}

def Intar_MulOp : Intar_BinaryOp<"mul"> {
  let summary = "Element-wise product, rounded-shifted and saturated";
  let description = [{ `rhs` has the shape of `lhs` or of a suffix of it. }];
}

def Intar_ReluOp : Intar_TaskOp<"relu"> {
  let summary = "max(x, 0)";
  let arguments = (ins StrAttr:$sym_name, Intar_Tensor:$input);
  let results = (outs Intar_Tensor:$result);
}

class Intar_FixedPointOp<string mnemonic> : Intar_TaskOp<mnemonic> {
  let arguments = (ins StrAttr:$sym_name, Intar_Tensor:$input,
                       I64Attr:$frac_bits);
  let results = (outs Intar_Tensor:$result);
}

def Intar_GeluOp : Intar_FixedPointOp<"gelu"> {
  let summary = "Piecewise-linear GeLU on fixed point with `frac_bits`";
}

def Intar_SiluOp : Intar_FixedPointOp<"silu"> {
  let summary = "SiLU (x * sigmoid(x)) on fixed point with `frac_bits`";
}

def Intar_ExpOp : Intar_FixedPointOp<"exp"> {
  let summary = "Shift-based exponential on fixed point with `frac_bits`";
}

def Intar_SoftmaxOp : Intar_TaskOp<"softmax"> {
  let summary = "Row-wise softmax over the last dimension";
  let description = [{
    The input is fixed point with `frac_bits`; the output is fixed point with
    `out_frac_bits`. With `causal`, element (.., i, j) is masked when j > i.
  }];
  let arguments = (ins StrAttr:$sym_name, Intar_Tensor:$input,
                       I64Attr:$frac_bits, I64Attr:$out_frac_bits,
                       UnitAttr:$causal);
  let results = (outs Intar_Tensor:$result);
}

def Intar_LayernormOp : Intar_TaskOp<"layernorm"> {
  let summary = "Row-wise layer normalisation over the last dimension";
  let description = [{
    `gamma` and `beta` are 1-D over the last dimension, fixed point with
    `frac_bits`, as is the result.
  }];
  let arguments = (ins StrAttr:$sym_name, Intar_Tensor:$input,
                       Intar_Tensor:$gamma, Intar_Tensor:$beta,
                       I64Attr:$frac_bits);
  let results = (outs Intar_Tensor:$result);
}

def Intar_UpsampleOp : Intar_TaskOp<"upsample"> {
  let summary = "Nearest-neighbour 2x upsampling of a CHW tensor";
  let arguments = (ins StrAttr:$sym_name, Intar_Tensor:$input);
  let results = (outs Intar_Tensor:$result);
}

def Intar_MaxpoolOp : Intar_TaskOp<"maxpool"> {
  let summary = "2x2 max pooling with stride 2 of a CHW tensor";
  let arguments = (ins StrAttr:$sym_name, Intar_Tensor:$input);
  let results = (outs Intar_Tensor:$result);
}

def Intar_RequantizeOp : Intar_TaskOp<"requantize"> {
  let summary = "Rounded arithmetic shift right, saturated to the result type";
  let arguments = (ins StrAttr:$sym_name, Intar_Tensor:$input,
                       I64Attr:$shift);
  let results = (outs Intar_Tensor:$result);
}

def Intar_ReshapeOp : Intar_TaskOp<"reshape"> {
  let summary = "Row-major reshape to the result shape";
  let arguments = (ins StrAttr:$sym_name, Intar_Tensor:$input);
  let results = (outs Intar_Tensor:$result);
}

def Intar_TransposeOp : Intar_TaskOp<"transpose"> {
  let summary = "Dimension permutation: result dim i is input dim perm[i]";
  let arguments = (ins StrAttr:$sym_name, Intar_Tensor:$input,
                       DenseI64ArrayAttr:$perm);
  let results = (outs Intar_Tensor:$result);
}

#endif // INTAR_OPS_TD
