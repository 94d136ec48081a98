"""The ``flowcap`` command line: parses arguments, calls :mod:`flowcap.workflow`, prints."""
