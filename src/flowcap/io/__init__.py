"""Reading a service folder: safe YAML, checked CSV/XLSX tables, pseudonymised case ids."""

from flowcap.io.folder import ServiceFolder, read_service_folder
from flowcap.io.service_yaml import read_service_yaml

__all__ = ["ServiceFolder", "read_service_folder", "read_service_yaml"]
