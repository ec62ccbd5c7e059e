"""Reports: diagrams (terminal, HTML), trace files, failure summaries."""
