"""Materializers: turn objects into bytes and back (SPEC §4).

==============  ============  =============  =====================================  =======
format          artifact      default for    loads back as                          consent
==============  ============  =============  =====================================  =======
``safetensors`` Model         torch tensor,  tensor / ``dict`` of tensors           no
                              state dict
``parquet``     Dataset       DataFrame,     the same kind (index kept)             no
                              pyarrow Table
``npy``         Object        ndarray        ndarray (object dtypes: pickle)        no
``skops``       Model         sklearn        estimator (untrusted types: consent)   partly
``joblib``      Model         sklearn, no    estimator                              yes
                              skops
``png``         Plot          Figure         PNG ``bytes``                          no
``bytes``       Object        bytes-like     ``bytes``                              no
``text``        Object        ``str``        ``str``                                no
``json``        Object        JSON values    the same value                         no
``pickle``      Object        anything else  the object                             yes
==============  ============  =============  =====================================  =======

The catalog saves with ``registry.for_object(obj).save(obj, dest)`` (or
``registry.save``), records the materializer's ``name`` as the version's format, and
loads only through :meth:`MaterializerRegistry.load`.
"""

from __future__ import annotations

from archivist.materializers.arrays import NpyMaterializer
from archivist.materializers.builtin import (
    BytesMaterializer,
    JsonMaterializer,
    TextMaterializer,
    canonical_json,
)
from archivist.materializers.estimators import (
    TRUSTED_TYPES,
    JoblibMaterializer,
    SkopsMaterializer,
)
from archivist.materializers.figures import PngMaterializer
from archivist.materializers.parquet import ParquetMaterializer, dataset_stats
from archivist.materializers.pickled import PickleMaterializer
from archivist.materializers.registry import (
    HEAD_SIZE,
    ConsentAwareMaterializer,
    Materializer,
    MaterializerRegistry,
    Written,
    default_registry,
)
from archivist.materializers.tensors import SafetensorsMaterializer

__all__ = [
    "HEAD_SIZE",
    "TRUSTED_TYPES",
    "BytesMaterializer",
    "ConsentAwareMaterializer",
    "JoblibMaterializer",
    "JsonMaterializer",
    "Materializer",
    "MaterializerRegistry",
    "NpyMaterializer",
    "ParquetMaterializer",
    "PickleMaterializer",
    "PngMaterializer",
    "SafetensorsMaterializer",
    "SkopsMaterializer",
    "TextMaterializer",
    "Written",
    "canonical_json",
    "dataset_stats",
    "default_registry",
]
