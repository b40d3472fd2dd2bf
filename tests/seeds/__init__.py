"""Every example of the five product pages (/work/shared/seeds), done with archivist."""
