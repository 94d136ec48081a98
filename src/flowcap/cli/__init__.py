"""The ``flowcap`` command line: parses arguments, opens the service, calls the library, prints."""
