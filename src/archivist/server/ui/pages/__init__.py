"""The UI's pages, one module per area; each answers HTML through the caller's
:class:`~archivist.server.service.Service` (the same operations as the REST API)."""
