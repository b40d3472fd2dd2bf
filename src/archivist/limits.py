"""Every limit a request to the catalog is held to, in one place (the API, the server and
the client read them from here). Limits of single values (names, tags, metadata) are the
rules of :mod:`archivist.names`."""

from __future__ import annotations

#: Most versions (or runs) one ``list``/``search``/``runs`` call returns.
MAX_LIST = 10_000
#: Most items one page of an HTTP list answers; the client pages through longer lists.
MAX_PAGE = 1000
#: Deepest lineage walk, in hops (``get_lineage(depth=…)``, ``upstream-of:x~N``).
MAX_LINEAGE_DEPTH = 1000
#: Most records (or ids, or digests) one HTTP request body carries.
MAX_BATCH = 10_000
#: Most blobs one version may need (a directory's manifest and files).
MAX_BLOBS = 1_000_000
#: Version, run and task numbers are positive 32-bit integers.
MAX_NUMBER = 2**31 - 1
