"""Support module for the generated op classes: CIRCT's copy of MLIR's ODS helpers."""

from circt.dialects._ods_common import *  # noqa: F403
from circt.dialects._ods_common import _cext  # noqa: F401
